import Engine
import Foundation
import Support

/// The β search of the authors' `improve_llama_experiment.py`: evaluate the large model alone (β =
/// 0), then try β = 1.0, 0.9, … until the ensemble's general loss is inside the ball around the
/// large model's, and evaluate everything at that β.
public enum EnsembleSearch {
    public struct Result: Codable {
        public var schema_version: String? = ResultsSchema.version
        public var weight: Double
        public var ball: String
        public var initial: EpochFigures
        public var ensemble: EpochFigures
        public var tried: [[Double]]  // [β, general] pairs in order
        public var controls: Controls? = nil
    }

    /// Facts the edit should leave alone, scored by the large model alone and by the ensemble.
    public struct Controls: Codable {
        public var examples: Int
        public var success_before: Double
        public var success_after: Double
        public var mean_nll_before: Double  // summed suffix NLL per example, averaged
        public var mean_nll_after: Double
        public var max_abs_nll_change: Double  // over examples
    }

    public static func run(
        _ ensemble: EnsembleLM, evaluator: Evaluator, epsilon: Double, controls: InterventionSet? = nil,
        progress: (String) -> Void = { _ in }
    ) throws -> Result {
        ensemble.beta = 0
        let initial = try evaluator.evaluate(ensemble)
        let controlsBefore = try controls.map { (try $0.sums(ensemble).s1, 1 - (try $0.failureRate(ensemble))) }
        progress(
            String(format: "β = 0 (large model alone): success %.4f, general %.5f", initial.success, initial.general))
        let ball = Ball(epsilon)
        let cutoff = ball.cutoff(reference: initial.general)
        var tried: [[Double]] = []
        var g = 1.1, chosen = 0.0
        for _ in 0..<11 {
            g -= 0.1
            ensemble.beta = Float(g)
            let general = try evaluator.general.meanNLL(ensemble)
            tried.append([g, general])
            progress(String(format: "β = %.2f: general %.5f (ball below %.5f)", g, general, cutoff))
            if ball.contains(general, reference: initial.general) { chosen = g; break }
        }
        ensemble.beta = Float(chosen)
        let final = try evaluator.evaluate(ensemble)
        var result = Result(weight: chosen, ball: ball.key, initial: initial, ensemble: final, tried: tried)
        if let controls, let (before, successBefore) = controlsBefore {
            let after = try controls.sums(ensemble).s1
            let mean = { (x: [Double]) in x.reduce(0, +) / Double(max(x.count, 1)) }
            result.controls = Controls(
                examples: controls.count, success_before: successBefore,
                success_after: 1 - (try controls.failureRate(ensemble)),
                mean_nll_before: mean(before), mean_nll_after: mean(after),
                max_abs_nll_change: zip(before, after).map { abs($1 - $0) }.max() ?? 0)
            progress(
                String(
                    format: "controls: success %.3f → %.3f, mean NLL %.4f → %.4f", successBefore,
                    result.controls!.success_after,
                    result.controls!.mean_nll_before, result.controls!.mean_nll_after))
        }
        return result
    }
}
