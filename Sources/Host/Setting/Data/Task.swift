import Engine
import Foundation
import Support

/// The four training losses and success rules of the paper (the authors' `utils.py` and
/// `evaluate.py`).
public enum LossType: String, Codable, CaseIterable {
    case good, bad, balance
    case goodVBad = "good-v-bad"

    public var isPair: Bool { self == .balance || self == .goodVBad }

    /// Whether an example fails, from summed suffix NLLs Σ (Σ2 for the second suffix of a pair)
    /// and the task threshold τ. Strict `>`: ties succeed. A NaN or infinite score fails: a
    /// broken model (a NaN edit, an overflowing ensemble) must never count as a success, and
    /// `NaN > τ` alone is false.
    public func fails(sum1: Double, sum2: Double?, threshold: Double) -> Bool {
        let score: Double
        switch self {
        case .good: score = sum1
        case .bad: score = -sum1
        case .balance: score = abs(sum1 - sum2!)
        case .goodVBad: score = sum1 - sum2!
        }
        return !score.isFinite || score > threshold
    }

    /// Training loss from per-example mean suffix NLLs m1 (and m2).
    public func loss(mean1: Double, mean2: Double?) -> Double {
        switch self {
        case .good: return mean1
        case .bad: return -mean1
        case .balance: return abs(mean1 - mean2!)
        case .goodVBad: return mean1 - mean2!
        }
    }

    /// d(loss)/d(m1), d(loss)/d(m2). |x| takes subgradient 0 at 0, as torch does.
    public func lossGradient(mean1: Double, mean2: Double?) -> (Double, Double) {
        switch self {
        case .good: return (1, 0)
        case .bad: return (-1, 0)
        case .balance:
            let d = mean1 - mean2!
            let s: Double = d > 0 ? 1 : (d < 0 ? -1 : 0)
            return (s, -s)
        case .goodVBad: return (1, -1)
        }
    }
}

/// The six tasks of the paper with the loss and threshold their sweeps use (the authors' task
/// configs).
public struct TaskKind {
    public let name: String
    public let loss: LossType
    public let threshold: Double

    public static let all: [TaskKind] = [
        TaskKind(name: "country_capital", loss: .good, threshold: 1.6094379124341003),  // p ≥ 0.2
        TaskKind(name: "company_ceo", loss: .good, threshold: 2.995732273553991),  // p ≥ 0.05
        TaskKind(name: "pronoun_gender_bias", loss: .balance, threshold: 0.4054651081081645),  // ratio within 1.5
        TaskKind(name: "temporal", loss: .good, threshold: 2.995732273553991),
        TaskKind(name: "stereoset", loss: .bad, threshold: -6.907755278982137),  // p ≤ 0.001
        TaskKind(name: "verb_conjugation", loss: .goodVBad, threshold: -2.772588722239781),  // ratio ≥ 16
    ]

    /// The task a data set belongs to: the first folder of its path named after a task
    /// (data/<task>/...), the authors' layout.
    public static func of(datasetPath: String) -> TaskKind? {
        let parts = datasetPath.split(separator: "/").map(String.init)
        return parts.dropLast().lazy.compactMap { p in all.first { $0.name == p } }.first
    }

    public static func named(_ name: String) throws -> TaskKind {
        guard let t = all.first(where: { $0.name == name }) else {
            throw CanonEditError("unknown task \(name); one of \(all.map(\.name).joined(separator: ", "))")
        }
        return t
    }
}
