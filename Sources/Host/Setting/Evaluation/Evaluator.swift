import Engine
import Foundation
import Support

/// Everything measured after each epoch.
public struct Evaluator {
    public let intervention: InterventionSet
    public let general: TextSet
    public let targeted: TextSet?
    public let hardNegative: HardNegativeSet?
    /// The canonical examples themselves (efficacy) and unrelated prompts (locality).
    public var edits: InterventionSet?
    public var locality: LocalityPrompts?

    public init(
        intervention: InterventionSet, general: TextSet, targeted: TextSet?, hardNegative: HardNegativeSet?,
        edits: InterventionSet? = nil, locality: LocalityPrompts? = nil
    ) {
        self.intervention = intervention
        self.general = general
        self.targeted = targeted
        self.hardNegative = hardNegative
        self.edits = edits
        self.locality = locality
    }

    /// Each set's scored sequence lengths, one list per set as it is scored (a memory plan
    /// packs them into batches the way SequenceScorer does).
    public var scoredLengths: [[Int]] {
        let sets: [[ScoredSequence]?] = [
            intervention.seq1 + (intervention.seq2 ?? []), general.seqs, targeted?.seqs, hardNegative?.seqs,
            edits.map { $0.seq1 + ($0.seq2 ?? []) },
        ]
        return sets.compactMap { $0?.filter { !$0.rows.isEmpty }.map(\.ids.count) }
    }

    /// When set, each evaluation keeps every example's outcome there (`run --log-samples`).
    public var sampleLog: SampleLog?
    /// Told which set is being evaluated (a line a terminal may redraw in place).
    public var progress: ((String) -> Void)?
    /// Where the last evaluation's time went, set by set (the profile `run` prints).
    public let times = EvaluationTimes()

    public func evaluate(_ model: CausalLM) throws -> EpochFigures {
        times.parts.removeAll()
        progress?("evaluating: \(intervention.count) evaluation examples")
        let (s1, s2, greedy) = try times.measure("evaluation set") { try intervention.scores(model) }
        if let sampleLog { sampleLog.record(try samples(model, s1: s1, s2: s2)) }
        progress?("evaluating: general text (\(general.tokenCount) tokens)")
        let g = try times.measure("general") { try general.meanNLL(model) }
        if targeted != nil { progress?("evaluating: targeted text") }
        let rest = try times.measure("targeted") { try targeted?.meanNLL(model) }
        if hardNegative != nil { progress?("evaluating: hard negatives") }
        var f = EpochFigures(
            intervention: intervention.failureRate(s1: s1, s2: s2), general: g, rest_of_prompt: rest,
            hard_negative: try times.measure("hard negatives") { try hardNegative?.score(model) })
        f.greedy_success = intervention.greedySuccess(greedy)
        if edits != nil { progress?("evaluating: edit prompts and locality") }
        f.efficacy = try times.measure("edit prompts") { try edits.map { 1 - (try $0.failureRate(model)) } }
        f.locality = try times.measure("locality") { try locality?.unchangedShare(model) }
        if let e = f.efficacy, let l = f.locality {
            let parts = [e, f.success, l]
            f.edit_score = parts.contains(0) ? 0 : 3 / parts.reduce(0) { $0 + 1 / $1 }
        }
        return f
    }
}

/// Seconds each part of an evaluation took, in order.
public final class EvaluationTimes {
    public internal(set) var parts: [(name: String, seconds: Double)] = []

    func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        let t0 = Date()
        defer { parts.append((name, Date().timeIntervalSince(t0))) }
        return try body()
    }

    /// "general 5.1 s, evaluation set 3.0 s, …", largest first.
    public var summary: String {
        parts.filter { $0.seconds >= 0.05 }.sorted { $0.seconds > $1.seconds }
            .map { $0.name + String(format: " %.1f s", $0.seconds) }.joined(separator: ", ")
    }
}
