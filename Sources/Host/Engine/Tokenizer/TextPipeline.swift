import Foundation
import Support

/// A `tokenizer.json`'s normalizer, pre-tokenizer and decoder, as steps that behave as the Rust
/// `tokenizers` library's do. Text between special tokens is normalized, then cut into pieces
/// step by step (each step cuts every piece further); BPE merges never cross a piece. Regexes
/// run on ICU (NSRegularExpression), which reads the patterns current models ship (\p{L},
/// \p{N}, (?i:…), (?!\S), {1,3}) as Oniguruma does.
public struct TextPipeline {
    public enum Pattern {
        case string(String)
        case regex(NSRegularExpression)
    }

    public enum Normalizer {
        case nfc, nfkc, nfd, nfkd, lowercase
        case prepend(String)
        case replace(Pattern, String)
    }

    /// What becomes of the parts a Split step matches.
    public enum Behavior: String { case removed, isolated, mergedWithPrevious, mergedWithNext, contiguous }

    public enum Step {
        /// GPT-2's pattern (when `useRegex`) and an optional leading space; the BPE then works on bytes.
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
        case split(Pattern, Behavior, invert: Bool)
        case digits(individual: Bool)
        case punctuation(Behavior)
        case whitespace  // \w+|[^\w\s]+, the rest removed
        case whitespaceSplit
        case metaspace(replacement: String, prepend: MetaspacePrepend, split: Bool)
    }

    public enum MetaspacePrepend: String { case always, first, never }

    public enum DecodeStep {
        case byteLevel
        case replace(String, String)
        case byteFallback, fuse
        case strip(String, start: Int, stop: Int)
        case metaspace(replacement: String, prepend: MetaspacePrepend)
    }

    /// The split patterns GGUF files name by `tokenizer.ggml.pre` (public facts of each family).
    static let llama3Split =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"#
        + #"|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Split =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"#
        + #"|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let ggufSplits: [String: (regex: NSRegularExpression, ignoreMerges: Bool)] = {
        let llama3 = try! NSRegularExpression(pattern: llama3Split),
            qwen2 = try! NSRegularExpression(pattern: qwen2Split)
        var out: [String: (NSRegularExpression, Bool)] = [:]
        for name in ["llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe"] { out[name] = (llama3, true) }
        for name in ["qwen2", "deepseek-r1-qwen", "megrez"] { out[name] = (qwen2, false) }
        return out
    }()

    public var normalizers: [Normalizer] = []
    public var steps: [Step] = []
    /// nil: tokens joined by spaces, as `tokenizers` decodes without a decoder.
    public var decoder: [DecodeStep]?

    public init(normalizers: [Normalizer] = [], steps: [Step] = [], decoder: [DecodeStep]? = nil) {
        (self.normalizers, self.steps, self.decoder) = (normalizers, steps, decoder)
    }

    /// Byte-level vocabularies (a ByteLevel step or decoder) run BPE on UTF-8 bytes.
    public var isByteLevel: Bool {
        steps.contains { if case .byteLevel = $0 { return true } else { return false } }
            || (decoder ?? []).contains { if case .byteLevel = $0 { return true } else { return false } }
    }

    // MARK: - encoding

    public func normalize(_ text: String) -> String {
        var s = text
        for n in normalizers {
            switch n {
            case .nfc: s = s.precomposedStringWithCanonicalMapping
            case .nfkc: s = s.precomposedStringWithCompatibilityMapping
            case .nfd: s = s.decomposedStringWithCanonicalMapping
            case .nfkd: s = s.decomposedStringWithCompatibilityMapping
            case .lowercase: s = s.lowercased()
            case .prepend(let p): if !s.isEmpty { s = p + s }
            case .replace(let pattern, let content):
                s = Self.pieces(s, matching: pattern).map { $0.matched ? content : $0.text }.joined()
            }
        }
        return s
    }

    /// The pieces of one run of ordinary text; `atStart` says it begins the whole input (a
    /// Metaspace with prepend_scheme "first" adds its "▁" only there).
    public func preTokenize(_ text: String, atStart: Bool) -> [String] {
        var pieces = [text]
        for step in steps {
            var next: [String] = []
            for (k, piece) in pieces.enumerated() {
                next += apply(step, to: piece, first: atStart && k == 0)
            }
            pieces = next.filter { !$0.isEmpty }
        }
        return pieces
    }

    func apply(_ step: Step, to piece: String, first: Bool) -> [String] {
        switch step {
        case .byteLevel(let addPrefixSpace, let useRegex):
            let p = addPrefixSpace && !piece.hasPrefix(" ") ? " " + piece : piece
            return useRegex ? PreTokenizer().split(p) : [p]
        case .split(let pattern, let behavior, let invert):
            return Self.split(Self.pieces(piece, matching: pattern), behavior, invert: invert)
        case .digits(let individual):
            let parts = Self.pieces(piece) { Self.isNumeric($0) }
            if individual { return Self.split(Self.isolateEach(parts), .isolated, invert: false) }
            return Self.split(parts, .isolated, invert: false)
        case .punctuation(let behavior):
            let parts = Self.pieces(piece) { Self.isPunctuation($0) }
            return Self.split(Self.isolateEach(parts), behavior, invert: false)
        case .whitespace:
            return Self.split(Self.pieces(piece, matching: .regex(Self.wordsOrSymbols)), .removed, invert: true)
        case .whitespaceSplit:
            return Self.split(Self.pieces(piece) { $0.properties.isWhitespace }, .removed, invert: false)
        case .metaspace(let replacement, let prepend, let splitOn):
            var s = piece.replacingOccurrences(of: " ", with: replacement, options: .literal)
            let add = prepend == .always || (prepend == .first && first)
            if add && !s.hasPrefix(replacement) { s = replacement + s }
            guard splitOn else { return [s] }
            return Self.split(Self.pieces(s, matching: .string(replacement)), .mergedWithNext, invert: false)
        }
    }

    static let wordsOrSymbols = try! NSRegularExpression(pattern: #"\w+|[^\w\s]+"#)

    /// Rust's char::is_numeric: the Nd, Nl and No categories.
    static func isNumeric(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    /// Rust's char::is_ascii_punctuation or a Unicode punctuation category.
    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII,
            (0x21...0x2F).contains(c.value) || (0x3A...0x40).contains(c.value)
                || (0x5B...0x60).contains(c.value) || (0x7B...0x7E).contains(c.value)
        {
            return true
        }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// The text as alternating unmatched and matched parts, in order.
    static func pieces(_ text: String, matching pattern: Pattern) -> [(text: String, matched: Bool)] {
        var out: [(String, Bool)] = []
        switch pattern {
        case .string(let p):
            guard !p.isEmpty else { return [(text, false)] }
            var rest = Substring(text)
            while let r = rest.range(of: p, options: .literal) {
                out.append((String(rest[..<r.lowerBound]), false))
                out.append((p, true))
                rest = rest[r.upperBound...]
            }
            out.append((String(rest), false))
        case .regex(let re):
            let ns = text as NSString
            var last = 0
            for m in re.matches(in: text, range: NSRange(location: 0, length: ns.length)) where m.range.length > 0 {
                out.append((ns.substring(with: NSRange(location: last, length: m.range.location - last)), false))
                out.append((ns.substring(with: m.range), true))
                last = m.range.location + m.range.length
            }
            out.append((ns.substring(from: last), false))
        }
        return out.filter { !$0.0.isEmpty }.map { (text: $0.0, matched: $0.1) }
    }

    /// Runs of scalars that satisfy `test` as matched parts.
    static func pieces(_ text: String, where test: (Unicode.Scalar) -> Bool) -> [(text: String, matched: Bool)] {
        var out: [(text: String, matched: Bool)] = []
        var run = String.UnicodeScalarView(), runMatched = false
        for c in text.unicodeScalars {
            let m = test(c)
            if !run.isEmpty && m != runMatched { out.append((String(run), runMatched)); run = .init() }
            run.append(c)
            runMatched = m
        }
        if !run.isEmpty { out.append((String(run), runMatched)) }
        return out
    }

    /// Matched runs cut into one part per scalar (each digit or punctuation mark its own match).
    static func isolateEach(_ parts: [(text: String, matched: Bool)]) -> [(text: String, matched: Bool)] {
        parts.flatMap { p in p.matched ? p.text.unicodeScalars.map { (text: String($0), matched: true) } : [p] }
    }

    /// Pieces from matched and unmatched parts, as `tokenizers`' SplitDelimiterBehavior does.
    static func split(_ parts: [(text: String, matched: Bool)], _ b: Behavior, invert: Bool) -> [String] {
        let parts = invert ? parts.map { (text: $0.text, matched: !$0.matched) } : parts
        var out: [String] = []
        var pendingNext = ""
        for (k, p) in parts.enumerated() {
            switch b {
            case .removed: if !p.matched { out.append(p.text) }
            case .isolated: out.append(p.text)
            case .contiguous:
                if p.matched, k > 0, parts[k - 1].matched { out[out.count - 1] += p.text } else { out.append(p.text) }
            case .mergedWithPrevious:
                if p.matched, k > 0, !parts[k - 1].matched { out[out.count - 1] += p.text } else { out.append(p.text) }
            case .mergedWithNext:
                if p.matched {
                    pendingNext += p.text
                } else {
                    out.append(pendingNext + p.text)
                    pendingNext = ""
                }
            }
        }
        if !pendingNext.isEmpty { out.append(pendingNext) }
        return out
    }

    // MARK: - decoding

    /// Token strings to text. Byte fallback tokens <0xXX> become bytes here; the result is
    /// UTF-8 bytes (invalid sequences replaced when made into a String).
    public func decode(_ tokens: [String]) -> [UInt8] {
        guard let decoder else { return Array(tokens.joined(separator: " ").utf8) }
        var parts = tokens.map { Array($0.utf8) }
        for step in decoder {
            switch step {
            case .byteLevel:
                parts = [parts.flatMap { ByteLevelAlphabet.decode(String(decoding: $0, as: UTF8.self)) ?? $0 }]
            case .replace(let a, let b):
                parts = parts.map {
                    Array(String(decoding: $0, as: UTF8.self).replacingOccurrences(of: a, with: b).utf8)
                }
            case .byteFallback:
                parts = parts.map { p in ByteFallback.byte(String(decoding: p, as: UTF8.self)).map { [$0] } ?? p }
            case .fuse: parts = [parts.flatMap { $0 }]
            case .strip(let content, let start, let stop):
                parts = parts.map { p in
                    var s = Substring(String(decoding: p, as: UTF8.self))
                    for _ in 0..<start where s.hasPrefix(content) { s = s.dropFirst(content.count) }
                    for _ in 0..<stop where s.hasSuffix(content) { s = s.dropLast(content.count) }
                    return Array(s.utf8)
                }
            case .metaspace(let replacement, let prepend):
                parts = parts.enumerated().map { (k, p) in
                    var s = String(decoding: p, as: UTF8.self).replacingOccurrences(of: replacement, with: " ")
                    if k == 0, prepend != .never, s.hasPrefix(" ") { s.removeFirst() }
                    return Array(s.utf8)
                }
            }
        }
        return parts.flatMap { $0 }
    }
}
