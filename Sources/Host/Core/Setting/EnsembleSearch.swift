import Foundation

/// The β search of spec §4.4: evaluate the large model alone (β = 0), then try β = 1.0, 0.9, …
/// until the ensemble's general loss is inside the ball around the large model's, and
/// evaluate everything at that β.
public enum EnsembleSearch {
    public struct Result: Codable {
        public var weight: Double
        public var ball: String
        public var initial: EpochFigures
        public var ensemble: EpochFigures
        public var tried: [[Double]]            // [β, general] pairs in order
    }

    public static func run(_ ensemble: EnsembleLM, evaluator: Evaluator, epsilon: Double,
                           progress: (String) -> Void = { _ in }) throws -> Result {
        ensemble.beta = 0
        let initial = try evaluator.evaluate(ensemble)
        progress(String(format: "β = 0 (large model alone): success %.4f, general %.5f", initial.success, initial.general))
        let cutoff = initial.general * (1 + epsilon)
        var tried: [[Double]] = []
        var g = 1.1, chosen = 0.0
        for _ in 0..<11 {
            g -= 0.1
            ensemble.beta = Float(g)
            let general = try evaluator.general.meanNLL(ensemble)
            tried.append([g, general])
            progress(String(format: "β = %.2f: general %.5f (ball below %.5f)", g, general, cutoff))
            if general < cutoff { chosen = g; break }
        }
        ensemble.beta = Float(chosen)
        let final = try evaluator.evaluate(ensemble)
        return Result(weight: chosen, ball: Ball.key(epsilon), initial: initial, ensemble: final, tried: tried)
    }
}
