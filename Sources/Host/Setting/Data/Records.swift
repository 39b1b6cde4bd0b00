import Engine
import Foundation
import Support

/// One line of the authors' JSONL files. Extra fields are ignored, as in their code.
public struct Example: Equatable {
    public var prefix: String
    public var suffix: String  // suffix1 for pair tasks
    public var suffix2: String?  // set for pair tasks
    public var subject: String?  // optional oracle subject (MEMIT's oracle format)
    public var line: Int

    public init(prefix: String, suffix: String, suffix2: String?, subject: String?, line: Int) {
        self.prefix = prefix
        self.suffix = suffix
        self.suffix2 = suffix2
        self.subject = subject
        self.line = line
    }
}

/// Where a malformed line stops the run, or (with `skipMalformed`) is counted and skipped.
public struct JSONLReadReport { public var skipped: [(line: Int, reason: String)] = [] }

public enum JSONL {
    public static let maxLineBytes = 16 << 20

    /// Calls `each` with every non-blank line of `path` parsed as a JSON object, in order.
    /// A line that is not an object, or that `each` rejects by throwing a LineError, stops the
    /// read with an error naming the file and line, or with `skipMalformed` is counted and skipped.
    public static func read(
        _ path: String, skipMalformed: Bool, report: inout JSONLReadReport,
        _ each: (Int, [String: Any]) throws -> Void
    ) throws {
        guard let data = MappedFile.contents(path) else {
            throw CanonEditError("\(path): cannot read (missing file?)")
        }
        var lineNo = 0
        for raw in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNo += 1
            if raw.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            do {
                guard raw.count <= maxLineBytes else { throw LineError("line is longer than \(maxLineBytes) bytes") }
                guard let obj = try? JSONSerialization.jsonObject(with: Data(raw)) else {
                    throw LineError("not valid JSON")
                }
                guard let dict = obj as? [String: Any] else { throw LineError("expected a JSON object") }
                try each(lineNo, dict)
            } catch let e as LineError {
                if skipMalformed {
                    report.skipped.append((lineNo, e.reason))
                } else {
                    throw CanonEditError("\(path):\(lineNo): \(e.reason)")
                }
            }
        }
    }

    struct LineError: Error { let reason: String; init(_ r: String) { reason = r } }

    static func string(_ o: [String: Any], _ key: String, context: String = "") throws -> String {
        guard let v = o[key] else { throw LineError("missing field \"\(key)\"" + context) }
        guard let s = v as? String else { throw LineError("field \"\(key)\" is not a string" + context) }
        return s
    }

    /// Records with `prefix` and `suffix` (or `suffix1` and `suffix2` when `pair`).
    public static func examples(
        _ path: String, pair: Bool, skipMalformed: Bool = false
    ) throws -> (examples: [Example], report: JSONLReadReport) {
        var report = JSONLReadReport()
        var out: [Example] = []
        let need = pair ? "prefix, suffix1, suffix2" : "prefix, suffix"
        let context = " (\(pair ? "pair" : "single-suffix") records need \(need))"
        try read(path, skipMalformed: skipMalformed, report: &report) { line, o in
            let suffixKeys = pair ? ["suffix1", "suffix2"] : ["suffix"]
            for k in suffixKeys where (o[k] as? String)?.isEmpty == true {
                throw LineError("field \"\(k)\" is empty: nothing would be scored")
            }
            out.append(
                Example(
                    prefix: try string(o, "prefix", context: context),
                    suffix: try string(o, pair ? "suffix1" : "suffix", context: context),
                    suffix2: pair ? try string(o, "suffix2", context: context) : nil,
                    subject: o["subject"] as? String, line: line))
        }
        return (out, report)
    }

    /// Records with a `text` field (general corpora, targeted degradation sets).
    public static func texts(
        _ path: String, skipMalformed: Bool = false
    ) throws -> (texts: [String], report: JSONLReadReport) {
        var report = JSONLReadReport()
        var out: [String] = []
        try read(path, skipMalformed: skipMalformed, report: &report) { _, o in
            let text = try string(o, "text")
            guard !text.isEmpty else { throw LineError("field \"text\" is empty: nothing would be scored") }
            out.append(text)
        }
        return (out, report)
    }
}
