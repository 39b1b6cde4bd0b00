import Engine
import Foundation

/// One evaluation example's outcome at one epoch, a line of `run --log-samples` output
/// (docs/results.md): which paraphrases an edit fixed or broke.
public struct Sample: Codable, Equatable {
    public var schema_version = ResultsSchema.version
    public var set: String  // "eval" or "hard_negative"
    public var line: Int  // in its JSONL file
    public var prefix: String
    public var target: String
    public var target2: String?
    public var logprob: Double  // summed log-probability of the target given the prefix
    public var logprob2: Double?
    public var threshold: Double?
    public var success: Bool?
}

/// Per-example outcomes of the evaluations of a run, kept when asked for.
public final class SampleLog {
    public private(set) var last: [Sample] = []
    public init() {}
    func record(_ samples: [Sample]) { last = samples }

    /// The lines of `set` that failed in `before` and succeed in `after` (fixed), and the reverse (broke).
    public static func changes(before: [Sample], after: [Sample]) -> (fixed: [Sample], broke: [Sample]) {
        let was = Dictionary(
            before.filter { $0.set == "eval" }.map { ($0.line, $0.success ?? false) },
            uniquingKeysWith: { a, _ in a })
        let now = after.filter { $0.set == "eval" }
        return (
            now.filter { $0.success == true && was[$0.line] == false },
            now.filter { $0.success == false && was[$0.line] == true }
        )
    }
}

extension InterventionSet {
    /// Each example's outcome from its summed suffix NLLs (`sums`).
    public func samples(s1: [Double], s2: [Double]?) -> [Sample] {
        examples.enumerated().map { i, ex in
            Sample(
                set: "eval", line: ex.record.line, prefix: ex.record.prefix, target: ex.record.suffix,
                target2: ex.record.suffix2, logprob: -s1[i], logprob2: s2.map { -$0[i] }, threshold: threshold,
                success: !lossType.fails(sum1: s1[i], sum2: s2?[i], threshold: threshold))
        }
    }
}

extension Evaluator {
    /// The intervention set's and (suffix) hard negatives' outcomes, example by example.
    func samples(_ model: CausalLM, s1: [Double], s2: [Double]?) throws -> [Sample] {
        var out = intervention.samples(s1: s1, s2: s2)
        if let hn = hardNegative, !hn.perToken, !hn.examples.isEmpty {
            let all = try SequenceScorer.nll(model, hn.seqs, cache: hn.cache)
            out += hn.examples.enumerated().map { i, ex in
                Sample(
                    set: "hard_negative", line: ex.record.line, prefix: ex.record.prefix, target: ex.record.suffix,
                    logprob: -all[i].reduce(0.0) { $0 + Double($1) })
            }
        }
        return out
    }
}
