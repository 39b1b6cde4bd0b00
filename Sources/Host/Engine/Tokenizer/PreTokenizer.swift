import Foundation
import Support

/// Splits text into the pieces that BPE merges never cross. This is GPT-2's pattern
///   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
/// written as a hand scanner over Unicode scalars (no regex engine, no backtracking), with the
/// option some vocabularies add of splitting every digit into a piece of its own (SmolLM2).
public struct PreTokenizer: Equatable {
    public var individualDigits: Bool
    public var addPrefixSpace: Bool

    public init(individualDigits: Bool = false, addPrefixSpace: Bool = false) {
        self.individualDigits = individualDigits
        self.addPrefixSpace = addPrefixSpace
    }

    enum Kind { case letter, number, space, other }

    static func kind(_ s: Unicode.Scalar) -> Kind {
        if s.properties.isWhitespace { return .space }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    public func split(_ text: String) -> [String] {
        var scalars = Array(text.unicodeScalars)
        if addPrefixSpace, let f = scalars.first, f != " " { scalars.insert(" ", at: 0) }
        var pieces: [String] = []
        if individualDigits {
            // Digits first become pieces of their own; the pattern then runs on what lies between.
            var start = 0
            for i in 0..<scalars.count where Self.kind(scalars[i]) == .number {
                if start < i { Self.scan(scalars[start..<i], into: &pieces) }
                pieces.append(String(scalars[i]))
                start = i + 1
            }
            if start < scalars.count { Self.scan(scalars[start...], into: &pieces) }
        } else {
            Self.scan(scalars[...], into: &pieces)
        }
        return pieces
    }

    static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map {
        Array($0.unicodeScalars)
    }

    static func scan(_ s: ArraySlice<Unicode.Scalar>, into pieces: inout [String]) {
        var i = s.startIndex
        let end = s.endIndex
        func emit(_ a: Int, _ b: Int) {
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[a..<b])
            pieces.append(String(v))
        }
        while i < end {
            let c = s[i]
            // 's 't 're 've 'm 'll 'd
            if c == "'" {
                var matched = 0
                for con in contractions
                where i + 1 + con.count <= end && s[(i + 1)..<(i + 1 + con.count)].elementsEqual(con) {
                    matched = con.count
                    break
                }
                if matched > 0 { emit(i, i + 1 + matched); i += 1 + matched; continue }
            }
            // ` ?X+` for letters, numbers and "other": an optional single space then a run.
            var j = i
            if c == " ", i + 1 < end, kind(s[i + 1]) != .space { j = i + 1 }
            let k = kind(s[j])
            if k != .space {
                var e = j + 1
                while e < end, kind(s[e]) == k { e += 1 }
                emit(i, e); i = e; continue
            }
            // Whitespace run. `\s+(?!\S)`: when a non-space follows, leave its last character
            // to prefix the next piece; `\s+` catches a lone one.
            var e = i + 1
            while e < end, kind(s[e]) == .space { e += 1 }
            if e < end, e - i > 1 { e -= 1 }
            emit(i, e); i = e
        }
    }
}
