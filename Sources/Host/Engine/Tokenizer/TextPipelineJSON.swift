import Foundation
import Support

/// Reading a `tokenizer.json`'s normalizer, pre_tokenizer and decoder blocks. A step canonedit
/// does not implement is refused with its type named, never skipped: skipping one would
/// tokenize differently from the model's training without a word.
extension TextPipeline {
    public init(json root: [String: Any], path: String) throws {
        func fail(_ what: String) -> Error { formatError(path, what) }
        normalizers = try Self.list(root["normalizer"], key: "normalizers").map { n in
            switch n["type"] as? String {
            case "NFC": return .nfc
            case "NFKC": return .nfkc
            case "NFD": return .nfd
            case "NFKD": return .nfkd
            case "Lowercase": return .lowercase
            case "Prepend": return .prepend(n["prepend"] as? String ?? "")
            case "Replace":
                return .replace(try Self.pattern(n["pattern"], path: path), n["content"] as? String ?? "")
            case let t:
                throw fail(
                    "normalizer \(t ?? "?") is not supported (NFC, NFKC, NFD, NFKD, Lowercase, Prepend, Replace)")
            }
        }
        steps = try Self.list(root["pre_tokenizer"], key: "pretokenizers").map { p in
            switch p["type"] as? String {
            case "ByteLevel":
                return .byteLevel(
                    addPrefixSpace: p["add_prefix_space"] as? Bool ?? true, useRegex: p["use_regex"] as? Bool ?? true)
            case "Split":
                guard let b = Self.behavior(p["behavior"]) else { throw fail("Split behavior \(p["behavior"] ?? "?")") }
                return .split(try Self.pattern(p["pattern"], path: path), b, invert: p["invert"] as? Bool ?? false)
            case "Digits": return .digits(individual: p["individual_digits"] as? Bool ?? false)
            case "Punctuation":
                guard let b = Self.behavior(p["behavior"] ?? "Isolated") else { throw fail("Punctuation behavior") }
                return .punctuation(b)
            case "Whitespace": return .whitespace
            case "WhitespaceSplit": return .whitespaceSplit
            case "Metaspace":
                return .metaspace(
                    replacement: try Self.replacement(p, path: path), prepend: try Self.prepend(p, path: path),
                    split: p["split"] as? Bool ?? true)
            case let t:
                throw fail(
                    "pre_tokenizer \(t ?? "?") is not supported (ByteLevel, Split, Digits, Punctuation, Whitespace, "
                        + "WhitespaceSplit, Metaspace, Sequence)")
            }
        }
        if root["decoder"] == nil || root["decoder"] is NSNull { decoder = nil; return }
        decoder = try Self.list(root["decoder"], key: "decoders").map { d in
            switch d["type"] as? String {
            case "ByteLevel": return .byteLevel
            case "Replace":
                guard case .string(let a) = try Self.pattern(d["pattern"], path: path) else {
                    throw fail("decoder Replace with a regex is not supported")
                }
                return .replace(a, d["content"] as? String ?? "")
            case "ByteFallback": return .byteFallback
            case "Fuse": return .fuse
            case "Strip":
                // Counts of characters stripped from each token's ends: a negative count trapped, a
                // huge one spun; no tokenizer strips more than a few.
                let (start, stop) = (d["start"] as? Int ?? 0, d["stop"] as? Int ?? 0)
                guard (0...1024).contains(start), (0...1024).contains(stop) else {
                    throw formatError(path, "decoder Strip start \(start) / stop \(stop) must be 0…1024")
                }
                return .strip(d["content"] as? String ?? " ", start: start, stop: stop)
            case "Metaspace":
                return .metaspace(
                    replacement: try Self.replacement(d, path: path), prepend: try Self.prepend(d, path: path))
            case let t:
                throw fail(
                    "decoder \(t ?? "?") is not supported (ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace)")
            }
        }
    }

    /// A block, or the members of a Sequence block, as objects (none for null).
    static func list(_ any: Any?, key: String) throws -> [[String: Any]] {
        guard let obj = any as? [String: Any] else { return [] }
        if obj["type"] as? String == "Sequence" {
            return try ((obj[key] as? [[String: Any]]) ?? []).flatMap { try list($0, key: key) }
        }
        return [obj]
    }

    static func pattern(_ any: Any?, path: String) throws -> Pattern {
        if let s = (any as? [String: Any])?["String"] as? String { return .string(s) }
        if let r = (any as? [String: Any])?["Regex"] as? String {
            if let nested = RegexSafety.nestedRepeat(in: r) {
                throw formatError(
                    path,
                    "the regex \(r.debugDescription) repeats a group that repeats (\(nested)), which can take "
                        + "exponential time on some texts; write it without nested repeats")
            }
            do { return .regex(try NSRegularExpression(pattern: r)) } catch {
                throw formatError(path, "the regex \(r.debugDescription) cannot be compiled: \(error)")
            }
        }
        throw formatError(path, "a pattern must be {\"String\": …} or {\"Regex\": …}")
    }

    static func behavior(_ any: Any?) -> Behavior? {
        switch any as? String {
        case "Removed": return .removed
        case "Isolated": return .isolated
        case "MergedWithPrevious": return .mergedWithPrevious
        case "MergedWithNext": return .mergedWithNext
        case "Contiguous": return .contiguous
        default: return nil
        }
    }

    /// Metaspace's replacement: one character (an empty one would turn every space into nothing).
    static func replacement(_ obj: [String: Any], path: String) throws -> String {
        let r = obj["replacement"] as? String ?? "▁"
        guard r.count == 1 else {
            throw formatError(path, "Metaspace replacement \(r.debugDescription) must be one character")
        }
        return r
    }

    /// Metaspace's prepend_scheme, or the older add_prefix_space flag.
    static func prepend(_ obj: [String: Any], path: String) throws -> MetaspacePrepend {
        if let s = obj["prepend_scheme"] as? String {
            guard let p = MetaspacePrepend(rawValue: s) else {
                throw formatError(path, "Metaspace prepend_scheme \(s) is not supported (always, first, never)")
            }
            return p
        }
        return obj["add_prefix_space"] as? Bool ?? true ? .always : .never
    }
}
