import Engine
import Foundation
import Support

/// One JSONL record with its token ids, tokenized once when its data set is loaded and then shared
/// by the trainer, the evaluator, the plugin bridge and `plugins check`. Prefix and suffix are
/// tokenized separately and concatenated (the authors' `utils.py:score_suffix`), never re-tokenized
/// together.
public struct TokenizedExample {
    public let record: Example
    public let prefix: [Int32]
    public let suffix: [Int32]  // suffix1 for pair tasks
    public let suffix2: [Int32]?  // set for pair records
    /// The prefix's text through the end of the last occurrence of the record's `subject`,
    /// tokenized on its own (MEMIT's oracle subject); nil without a subject in the prefix.
    public let throughSubject: [Int32]?

    public init(_ record: Example, tokenizer: Tokenizer) {
        self.record = record
        prefix = tokenizer.startOfText(record.prefix)
        suffix = tokenizer.encode(record.suffix)
        suffix2 = record.suffix2.map(tokenizer.encode)
        throughSubject = record.subject.flatMap { subject in
            record.prefix.range(of: subject, options: .backwards).map {
                tokenizer.startOfText(String(record.prefix[..<$0.upperBound]))
            }
        }
    }

    /// The scored sequences: prefix + suffix, and for a pair task prefix + suffix2 (empty when
    /// the record has none).
    public func sequences(pair: Bool) -> [ScoredSequence] {
        let first = ScoredSequence.suffix(prefix: prefix, suffix: suffix)
        return pair ? [first, .suffix(prefix: prefix, suffix: suffix2 ?? [])] : [first]
    }
}

extension Array where Element == Example {
    /// Every record tokenized once.
    public func tokenized(with tokenizer: Tokenizer) -> [TokenizedExample] {
        map { TokenizedExample($0, tokenizer: tokenizer) }
    }
}
