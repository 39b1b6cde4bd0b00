import Engine
import Foundation
import Support

/// A degradation ball (the authors' `utils.py:score_of_last_valid_epoch`): an edited model is
/// inside it while its general loss stays below (1 + ε) × the unedited model's. Every decision
/// about a ball — during a run, when saving its edit, in the ensemble's β search, in a sweep's
/// selection and report — is made here.
public struct Ball: Hashable, Codable, CustomStringConvertible {
    public let epsilon: Double

    public init(_ epsilon: Double) { self.epsilon = epsilon }

    /// The paper's three balls, widest first.
    public static let paper: [Ball] = [Ball(1e-3), Ball(1e-4), Ball(1e-5)]

    /// How a loss exactly on the cutoff counts: outside during a run (`strict`, the authors'
    /// validation rule), inside when test reruns are read (`inclusive`, their test-time rule).
    public enum Rule { case strict, inclusive }

    /// The largest general loss inside the ball around `reference` (the unedited model's).
    public func cutoff(reference: Double) -> Double { reference * (1 + epsilon) }

    public func contains(_ general: Double, reference: Double, rule: Rule = .strict) -> Bool {
        let c = cutoff(reference: reference)
        return rule == .strict ? general < c : general <= c
    }

    /// The last epoch (0 = unedited, always inside) whose general loss is inside the ball
    /// around `general[0]`, at most `cap`.
    public func lastEpochInside(_ general: [Double], rule: Rule = .strict, cap: Int? = nil) -> Int {
        var chosen = 0
        for (i, g) in general.enumerated() {
            if let cap, i > cap { break }
            if contains(g, reference: general[0], rule: rule) { chosen = i }
        }
        return chosen
    }

    /// The key the authors' results files use: Python's str(ε) ("0.001", "0.0001", "1e-05").
    /// Edit files are named with it too.
    public var key: String { "\(epsilon)" }

    /// For people: "1e-3", "1e-4", "5e-4".
    public var label: String {
        guard epsilon > 0, epsilon.isFinite else { return "\(epsilon)" }
        let exponent = Int(floor(log10(epsilon) + 1e-9))
        let mantissa = epsilon / pow(10, Double(exponent))
        return String(format: "%ge%d", (mantissa * 1e6).rounded() / 1e6, exponent)
    }

    public var description: String { label }

    /// A ball from a results key or a label ("0.0001", "1e-05", "1e-4").
    public init?(key: String) {
        guard let e = Double(key), e > 0, e.isFinite else { return nil }
        epsilon = e
    }
}
