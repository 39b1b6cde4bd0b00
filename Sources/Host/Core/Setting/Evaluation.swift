import Foundation

/// Figures measured on a model after each epoch (spec §2.3). `intervention` is the failure
/// rate (lower is better), as in the authors' logs; `success` = 1 − intervention.
public struct EpochFigures: Codable, Equatable {
    public var intervention: Double
    public var general: Double
    public var rest_of_prompt: Double?      // targeted degradation
    public var hard_negative: Double?
    public var train_loss: Double?
    /// The edit-score metrics of Gangadhar & Stratos: success on the edit prompts themselves,
    /// success on paraphrases (= success), the share of unrelated prompts (the hard negatives'
    /// prefixes) whose greedy next token is unchanged, and the harmonic mean of the three.
    public var efficacy: Double?
    public var locality: Double?
    public var edit_score: Double?
    public var success: Double { 1 - intervention }
}

/// An evaluation set of suffix (or pair) examples, tokenized once.
public struct InterventionSet {
    public let lossType: LossType
    public let threshold: Double
    let seq1: [ScoredSequence]
    let seq2: [ScoredSequence]?
    let cache = PrefixCache()

    public init(_ examples: [Example], tokenizer: BPETokenizer, lossType: LossType, threshold: Double) {
        self.lossType = lossType
        self.threshold = threshold
        seq1 = examples.map { .suffix(prefix: tokenizer.encode($0.prefix), suffix: tokenizer.encode($0.suffix)) }
        seq2 = lossType.isPair ? examples.map { .suffix(prefix: tokenizer.encode($0.prefix), suffix: tokenizer.encode($0.suffix2 ?? "")) } : nil
    }

    public var count: Int { seq1.count }

    /// Summed suffix NLLs Σ1 (and Σ2) per example.
    public func sums(_ model: CausalLM) throws -> (s1: [Double], s2: [Double]?) {
        let all = try SequenceScorer.nll(model, seq1 + (seq2 ?? []), cache: cache)
        let sums = all.map { $0.reduce(0.0) { $0 + Double($1) } }
        return (Array(sums[0..<seq1.count]), seq2 == nil ? nil : Array(sums[seq1.count...]))
    }

    /// Failures / examples with a non-empty suffix (spec §2.1).
    public func failureRate(_ model: CausalLM) throws -> Double {
        let (s1, s2) = try sums(model)
        var failures = 0, counted = 0
        for i in 0..<seq1.count where !seq1[i].rows.isEmpty {
            counted += 1
            if lossType.fails(sum1: s1[i], sum2: s2?[i], threshold: threshold) { failures += 1 }
        }
        return counted == 0 ? 0 : Double(failures) / Double(counted)
    }
}

/// Token-level micro-averaged NLL over whole texts (general and targeted degradation).
public struct TextSet {
    let seqs: [ScoredSequence]
    let cache = PrefixCache()
    public init(_ texts: [String], tokenizer: BPETokenizer) { seqs = texts.map { .text(tokenizer.encode($0)) } }
    public var tokenCount: Int { seqs.reduce(0) { $0 + $1.rows.count } }

    public func meanNLL(_ model: CausalLM) throws -> Double {
        let all = try SequenceScorer.nll(model, seqs, cache: cache)
        let total = all.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1) } }
        return total / Double(max(tokenCount, 1))
    }
}

/// Hard negatives: mean summed suffix NLL per example (`eval_type: suffix`) or per-token NLL
/// (`unconditional`), lower is better (spec §2.2).
public struct HardNegativeSet {
    let seqs: [ScoredSequence]
    let perToken: Bool
    let cache = PrefixCache()
    public init(seqs: [ScoredSequence], perToken: Bool) { self.seqs = seqs; self.perToken = perToken }
    public func score(_ model: CausalLM) throws -> Double {
        let all = try SequenceScorer.nll(model, seqs, cache: cache)
        if perToken {
            return all.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1) } } / Double(max(all.reduce(0) { $0 + $1.count }, 1))
        }
        let scored = all.filter { !$0.isEmpty }
        return scored.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1) } } / Double(max(scored.count, 1))
    }
}

/// Prompts whose greedy next token should not change: it is recorded on the first
/// evaluation (the unedited model) and compared with on every later one.
public final class LocalityPrompts {
    let prompts: [[Int32]]
    var original: [Int32]?
    public init(_ prompts: [[Int32]]) { self.prompts = prompts.filter { !$0.isEmpty } }

    public func unchangedShare(_ model: CausalLM) throws -> Double? {
        guard !prompts.isEmpty else { return nil }
        let now = try prompts.map { Scoring.argmax(try Scoring.lastLogits(model, ids: Array($0.suffix(model.contextLength)))) }
        guard let original else { original = now; return 1 }
        return Double(zip(now, original).filter { $0 == $1 }.count) / Double(prompts.count)
    }
}

/// Everything measured after each epoch.
public struct Evaluator {
    public let intervention: InterventionSet
    public let general: TextSet
    public let targeted: TextSet?
    public let hardNegative: HardNegativeSet?
    /// The canonical examples themselves (efficacy) and unrelated prompts (locality).
    public var edits: InterventionSet?
    public var locality: LocalityPrompts?

    public init(intervention: InterventionSet, general: TextSet, targeted: TextSet?, hardNegative: HardNegativeSet?,
                edits: InterventionSet? = nil, locality: LocalityPrompts? = nil) {
        self.intervention = intervention
        self.general = general
        self.targeted = targeted
        self.hardNegative = hardNegative
        self.edits = edits
        self.locality = locality
    }

    public func evaluate(_ model: CausalLM) throws -> EpochFigures {
        var f = EpochFigures(intervention: try intervention.failureRate(model), general: try general.meanNLL(model),
                             rest_of_prompt: try targeted?.meanNLL(model), hard_negative: try hardNegative?.score(model))
        f.efficacy = try edits.map { 1 - (try $0.failureRate(model)) }
        f.locality = try locality?.unchangedShare(model)
        if let e = f.efficacy, let l = f.locality {
            let parts = [e, f.success, l]
            f.edit_score = parts.contains(0) ? 0 : 3 / parts.reduce(0) { $0 + 1 / $1 }
        }
        return f
    }
}

/// Degradation balls (spec §2.4, §2.6).
public enum Ball {
    public static let epsilons: [Double] = [1e-3, 1e-4, 1e-5]
    public static func key(_ eps: Double) -> String { eps == 1e-3 ? "0.001" : eps == 1e-4 ? "0.0001" : eps == 1e-5 ? "1e-05" : "\(eps)" }

    /// The last epoch (0 = unedited) whose general loss is < (1+ε)·general[0] (≤ with
    /// `strict: false`, the authors' test-time rule), at most `cap`.
    public static func lastInBall(_ general: [Double], epsilon: Double, strict: Bool = true, cap: Int? = nil) -> Int {
        let cutoff = general[0] * (1 + epsilon)
        var chosen = 0
        for (i, g) in general.enumerated() {
            if let cap, i > cap { break }
            if strict ? g < cutoff : g <= cutoff { chosen = i }
        }
        return chosen
    }
}
