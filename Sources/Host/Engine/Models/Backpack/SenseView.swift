import Foundation
import Support

/// What each sense vector of a word says: the vocabulary words its vector scores highest and
/// lowest (sense · Eᵀ), before and after an edit (the paper's Figure 4).
public struct SenseView: Codable {
    /// A vocabulary word and its score (sense · embedding).
    public struct Word: Codable, Equatable { public var token: String; public var score: Float }
    public struct Sense: Codable {
        public var sense: Int; public var top: [Word]; public var bottom: [Word]; public var edited: Bool
    }
    public var token: String
    public var id: Int32
    public var before: [Sense]
    public var after: [Sense]?

    public init(token: String, id: Int32, before: [Sense], after: [Sense]?) {
        self.token = token; self.id = id; self.before = before; self.after = after
    }

    public static func of(
        _ bp: BackpackLM, tokenizer: Tokenizer, id: Int32, count: Int, edited: Set<Int> = []
    ) throws -> [Sense] {
        let S = try bp.senses(of: [id])  // (1, k, C)
        let V = bp.vocabSize, C = bp.C
        return (0..<bp.numSenses).map { l in
            var scores = [Float](repeating: 0, count: V)
            Blas.gemm(
                transB: true, M: 1, N: V, K: C, A: S.data + l * C, lda: C, B: bp.embed.value.data, ldb: C, C: &scores,
                ldc: V)
            let order = scores.indices.sorted { scores[$0] > scores[$1] }
            func words(_ ids: ArraySlice<Int>) -> [Word] {
                ids.map { Word(token: display(tokenizer, Int32($0)), score: scores[$0]) }
            }
            return Sense(
                sense: l, top: words(order.prefix(count)), bottom: words(order.suffix(count).reversed()[...]),
                edited: edited.contains(l))
        }
    }

    /// A token with its spaces made visible (" K" is "␣K") and control characters as \xNN.
    public static func visible(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            if u == " " {
                out += "␣"
            } else if u.value < 0x20 || (0x7F...0x9F).contains(u.value) {
                out += String(format: "\\x%02X", u.value)
            } else {
                out.unicodeScalars.append(u)
            }
        }
        return out
    }

    static func list(_ words: [Word]) -> String {
        words.map { visible($0.token) + String(format: " (%.2f)", $0.score) }.joined(separator: "  ")
    }

    /// One block per sense: its highest (+) and lowest (−) words with scores, before and, when
    /// there is an edit, after it; edited senses are marked.
    public var text: String {
        var lines = ["senses of \(Self.visible(token)) (id \(id)); ␣ is a space, scores are sense · embedding"]
        for (l, b) in before.enumerated() {
            let a = after?[l]
            lines.append("sense \(b.sense)" + (a?.edited == true ? " (edited)" : after == nil ? "" : " (unchanged)"))
            lines.append("  before  + " + Self.list(b.top))
            lines.append("          − " + Self.list(b.bottom))
            if let a, a.edited {
                lines.append("  after   + " + Self.list(a.top))
                lines.append("          − " + Self.list(a.bottom))
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// A token as readable text: its string when its bytes are valid UTF-8, else its bytes in hex
/// (a byte-level token can be part of a multi-byte character).
func display(_ t: Tokenizer, _ id: Int32) -> String {
    let bytes = t.bytes(of: id)
    if let s = String(validatingUTF8: bytes.map { CChar(bitPattern: $0) } + [0]) { return s }
    return bytes.map { String(format: "\\x%02X", $0) }.joined()
}
