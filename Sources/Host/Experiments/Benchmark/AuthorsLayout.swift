import Engine
import Foundation
import Setting
import Support

/// The authors' data layout: for each task, the stems of its four split files under
/// `data/<task>/split/`, each with a `-val.jsonl` and a `-test.jsonl` (their sweep configs name
/// exactly these).
public enum AuthorsLayout {
    public struct TaskFiles {
        public let train, eval, hardNegative, unconditional: String
    }

    public static let files: [String: TaskFiles] = [
        "country_capital": .init(
            train: "country_capital_fixed", eval: "country_capital_clear_eval",
            hardNegative: "country_capital_hard_neg", unconditional: "country_capital_unconditional"),
        "company_ceo": .init(
            train: "company_ceo_train", eval: "company_ceo_eval_clear",
            hardNegative: "company_ceo_hard_neg_eval_clear", unconditional: "company_ceo_unconditional"),
        "pronoun_gender_bias": .init(
            train: "pronoun_gender_bias_train", eval: "pronoun_gender_bias_eval",
            hardNegative: "pronoun_gender_bias_hard_neg_eval", unconditional: "pronoun_gender_bias_unconditional"),
        "temporal": .init(
            train: "temporal_train", eval: "temporal_eval_clear", hardNegative: "temporal_hard_neg_eval_clear",
            unconditional: "temporal_unconditional"),
        "stereoset": .init(
            train: "stereoset_train", eval: "stereoset_eval_clear", hardNegative: "stereoset_hard_neg",
            unconditional: "stereoset_unconditional"),
        "verb_conjugation": .init(
            train: "verb_conjugation_train", eval: "verb_conjugation_eval",
            hardNegative: "verb_conjugation_hard_neg_eval", unconditional: "verb_conjugation_eval_unconditional"),
    ]

    /// Where a task's file of one split is in the authors' layout.
    public static func path(root: String, task: String, stem: String, split: String) -> String {
        "\(root)/data/\(task)/split/\(stem)-\(split).jsonl"
    }

    /// The lines of a JSONL file, at most `limit` of them chosen with `seed` and kept in file
    /// order (every line when `limit` is nil or not smaller). Blank lines are dropped.
    static func sample(_ path: String, limit: Int?, seed: UInt64) throws -> [Substring] {
        guard let data = MappedFile.contents(path) else { throw CanonEditError("\(path): cannot read") }
        let text = String(decoding: data, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true).filter {
            !$0.allSatisfy(\.isWhitespace)
        }
        guard let limit, limit < lines.count else { return lines }
        var rng = SeededRandom(seed: seed)
        var order = Array(lines.indices)
        order.shuffle(using: &rng)
        return order.prefix(max(limit, 0)).sorted().map { lines[$0] }
    }

    /// Copies `from` to `to` with at most `limit` lines (the same lines for the same seed);
    /// returns the SHA-256 of the source file.
    @discardableResult
    static func copy(_ from: String, to: String, limit: Int?, seed: UInt64) throws -> String {
        let lines = try sample(from, limit: limit, seed: seed)
        try FileManager.default.createDirectory(
            atPath: (to as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try AtomicFile.write(Data((lines.joined(separator: "\n") + "\n").utf8), to: to)
        return SHA256Digest.hex(of: MappedFile.contents(from) ?? Data())
    }
}
