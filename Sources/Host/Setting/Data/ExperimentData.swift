import Engine
import Foundation
import Support

/// The data files an experiment config names, read and checked before any model is loaded,
/// then tokenized once with the model's tokenizer for the trainer, the evaluator and plugins.
public struct ExperimentData {
    public enum HardNegatives {
        case suffix([Example])  // eval_type suffix: prefix/suffix records
        case unconditional([String])  // eval_type unconditional: whole texts
    }

    public let train: [Example]
    public let evaluation: [Example]
    public let general: [String]
    public let targeted: [String]?
    public let hardNegatives: HardNegatives?
    public let kl: [String]
    public let lossType: LossType
    public let threshold: Double
    /// The canonical examples' file, for errors.
    let trainPath: String

    /// Reads every file of `config` (paths through `resolve`); `source` names the config in
    /// errors. With `skipMalformed`, malformed JSONL lines are skipped and reported to `progress`.
    public init(
        config c: ExperimentConfig, source: String, resolve: (String) -> String, skipMalformed: Bool,
        readKL: Bool = true, progress: (String) -> Void
    ) throws {
        let pair = c.training.suffix_pair ?? false
        func examples(_ path: String, pair: Bool) throws -> [Example] {
            let (ex, report) = try JSONL.examples(resolve(path), pair: pair, skipMalformed: skipMalformed)
            guard !ex.isEmpty else { throw CanonEditError("\(path): no records") }
            if let first = report.skipped.first {
                progress(
                    "\(path): skipped \(report.skipped.count) malformed lines (first: line \(first.line): "
                        + "\(first.reason))"
                )
            }
            return ex
        }
        func texts(_ path: String) throws -> [String] {
            let (t, report) = try JSONL.texts(resolve(path), skipMalformed: skipMalformed)
            guard !t.isEmpty else { throw CanonEditError("\(path): no records") }
            if !report.skipped.isEmpty { progress("\(path): skipped \(report.skipped.count) malformed lines") }
            return t
        }
        train = try examples(c.training.dataset_path, pair: pair)
        evaluation = try examples(c.validation.intervention_eval_path, pair: pair)
        general = try texts(c.validation.degredation_general_path)
        targeted = try c.validation.degredation_targeted_path.map { try texts($0) }
        hardNegatives = try c.validation.hard_negative.map { h in
            h.eval_type == "unconditional"
                ? .unconditional(try texts(h.hard_negative_path))
                : .suffix(try examples(h.hard_negative_path, pair: false))
        }
        kl = readKL ? try c.training.regularization_data_path.map { try texts($0) } ?? [] : []
        trainPath = c.training.dataset_path
        guard let threshold = c.threshold else { throw CanonEditError("\(source): threshold is missing") }
        self.threshold = threshold
        lossType = c.training.loss_type
    }

    /// Everything tokenized once with the model's tokenizer.
    public struct Tokenized {
        public let train: [TokenizedExample]
        public let evaluator: Evaluator
        /// KL documents cut to the context, those with at least two tokens.
        public let klDocs: [[Int32]]
    }

    /// Throws naming the file and line of a canonical example longer than the model's context
    /// (evaluation sets are scored in windows of the context; a training example cannot be).
    public func tokenized(with tok: Tokenizer, contextLength: Int) throws -> Tokenized {
        func checked(_ records: [Example], _ path: String) throws -> [TokenizedExample] {
            let out = records.tokenized(with: tok)
            for ex in out {
                let longest = ex.prefix.count + max(ex.suffix.count, ex.suffix2?.count ?? 0)
                guard longest <= contextLength else {
                    throw CanonEditError(
                        "\(path):\(ex.record.line): the example is \(longest) tokens, longer than the model's "
                            + "context of \(contextLength)")
                }
            }
            return out
        }
        let edits = try checked(train, trainPath)
        var hardNegative: HardNegativeSet? = nil
        var locality: LocalityPrompts? = nil
        switch hardNegatives {
        case .unconditional(let texts)?:
            hardNegative = HardNegativeSet(seqs: texts.map { .text(tok.startOfText($0)) }, perToken: true)
        case .suffix(let records)?:
            let hn = records.tokenized(with: tok)
            hardNegative = HardNegativeSet(seqs: hn.map { $0.sequences(pair: false)[0] }, perToken: false)
            hardNegative?.examples = hn
            // (Evaluation scores sequences longer than the context in windows; training cannot.)
            // Locality: the hard negatives' prefixes, whose greedy next token should not change.
            locality = LocalityPrompts(hn.map(\.prefix))
        case nil: break
        }
        let evaluator = Evaluator(
            intervention: InterventionSet(evaluation.tokenized(with: tok), lossType: lossType, threshold: threshold),
            general: TextSet(general, tokenizer: tok), targeted: targeted.map { TextSet($0, tokenizer: tok) },
            hardNegative: hardNegative,
            edits: InterventionSet(edits, lossType: lossType, threshold: threshold),
            locality: locality)
        let klDocs = kl.map { Array(tok.startOfText($0).prefix(contextLength)) }.filter { $0.count >= 2 }
        return Tokenized(train: edits, evaluator: evaluator, klDocs: klDocs)
    }
}
