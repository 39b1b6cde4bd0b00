import Engine
import Foundation
import Support

/// An evaluation set of suffix (or pair) examples.
public struct InterventionSet {
    public let lossType: LossType
    public let threshold: Double
    let seq1: [ScoredSequence]
    let seq2: [ScoredSequence]?
    let cache = PrefixCache()
    /// The records, for per-example logs.
    let examples: [TokenizedExample]

    public init(_ examples: [TokenizedExample], lossType: LossType, threshold: Double) {
        self.examples = examples
        self.lossType = lossType
        self.threshold = threshold
        let pairs = examples.map { $0.sequences(pair: lossType.isPair) }
        seq1 = pairs.map { $0[0] }
        seq2 = lossType.isPair ? pairs.map { $0[1] } : nil
    }

    /// Records tokenized here (callers that hold no tokenized set).
    public init(_ examples: [Example], tokenizer: Tokenizer, lossType: LossType, threshold: Double) {
        self.init(examples.tokenized(with: tokenizer), lossType: lossType, threshold: threshold)
    }

    public var count: Int { seq1.count }

    /// Summed suffix NLLs Σ1 (and Σ2) per example.
    public func sums(_ model: CausalLM) throws -> (s1: [Double], s2: [Double]?) {
        let s = try scores(model)
        return (s.s1, s.s2)
    }

    /// The sums, and whether greedy decoding from each prompt emits its first suffix: every
    /// suffix token the most likely one after the prompt and the suffix's earlier tokens.
    public func scores(_ model: CausalLM) throws -> (s1: [Double], s2: [Double]?, greedy: [Bool]) {
        let all = try SequenceScorer.score(model, seq1 + (seq2 ?? []), cache: cache)
        let sums = all.nll.map { $0.reduce(0.0) { $0 + Double($1) } }
        let greedy = all.isArgmax[0..<seq1.count].map { !$0.isEmpty && $0.allSatisfy { $0 } }
        return (Array(sums[0..<seq1.count]), seq2 == nil ? nil : Array(sums[seq1.count...]), greedy)
    }

    /// The second scoring protocol: the share of examples whose greedy continuation begins with
    /// the target (for `bad`, does not begin with the stereotype); nil for `balance`, whose
    /// success is a ratio of two likelihoods and has no decoding counterpart.
    public func greedySuccess(_ greedy: [Bool]) -> Double? {
        guard lossType != .balance else { return nil }
        var hits = 0, counted = 0
        for i in 0..<seq1.count where !seq1[i].rows.isEmpty {
            counted += 1
            if greedy[i] != (lossType == .bad) { hits += 1 }
        }
        return counted == 0 ? nil : Double(hits) / Double(counted)
    }

    /// Failures / examples with a non-empty suffix (the authors' `evaluate.py`).
    public func failureRate(_ model: CausalLM) throws -> Double {
        let (s1, s2) = try sums(model)
        return failureRate(s1: s1, s2: s2)
    }

    public func failureRate(s1: [Double], s2: [Double]?) -> Double {
        let (failures, counted) = failureCount(s1: s1, s2: s2)
        return counted == 0 ? 0 : Double(failures) / Double(counted)
    }

    /// Successes over examples, divided once (1 − failure rate would print 0.30000000000000004).
    public func successRate(s1: [Double], s2: [Double]?) -> Double {
        let (failures, counted) = failureCount(s1: s1, s2: s2)
        return counted == 0 ? 0 : Double(counted - failures) / Double(counted)
    }

    func failureCount(s1: [Double], s2: [Double]?) -> (failures: Int, counted: Int) {
        var failures = 0, counted = 0
        for i in 0..<seq1.count where !seq1[i].rows.isEmpty {
            counted += 1
            if lossType.fails(sum1: s1[i], sum2: s2?[i], threshold: threshold) { failures += 1 }
        }
        return (failures, counted)
    }
}

/// Token-level micro-averaged NLL over whole texts (general and targeted degradation).
public struct TextSet {
    let seqs: [ScoredSequence]
    let cache = PrefixCache()
    public init(_ texts: [String], tokenizer: Tokenizer) { seqs = texts.map { .text(tokenizer.startOfText($0)) } }
    public var tokenCount: Int { seqs.reduce(0) { $0 + $1.rows.count } }

    public func meanNLL(_ model: CausalLM) throws -> Double {
        let all = try SequenceScorer.nll(model, seqs, cache: cache)
        let total = all.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1) } }
        return total / Double(max(tokenCount, 1))
    }
}

/// Hard negatives: mean summed suffix NLL per example (`eval_type: suffix`) or per-token NLL
/// (`unconditional`), lower is better (the authors' `evaluate.py`).
public struct HardNegativeSet {
    let seqs: [ScoredSequence]
    let perToken: Bool
    let cache = PrefixCache()
    /// The records, for per-example logs (suffix hard negatives).
    var examples: [TokenizedExample] = []
    public init(seqs: [ScoredSequence], perToken: Bool) { self.seqs = seqs; self.perToken = perToken }

    public func score(_ model: CausalLM) throws -> Double {
        score(try SequenceScorer.nll(model, seqs, cache: cache))
    }

    /// The score from each sequence's per-token NLLs.
    func score(_ all: [[Float]]) -> Double {
        if perToken {
            return all.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1) } }
                / Double(max(all.reduce(0) { $0 + $1.count }, 1))
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
        let now = try Scoring.nextTokens(model, prompts: prompts)
        guard let original else { original = now; return 1 }
        return Double(zip(now, original).filter { $0 == $1 }.count) / Double(prompts.count)
    }
}
