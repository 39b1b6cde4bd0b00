import Foundation
import Support

/// What each sense vector of a word says: the vocabulary words its vector scores highest and
/// lowest (sense · Eᵀ), before and after an edit (the paper's Figure 4).
public struct SenseView: Codable {
    public struct Sense: Codable {
        public var sense: Int; public var top: [String]; public var bottom: [String]; public var edited: Bool
    }
    public var token: String
    public var id: Int32
    public var before: [Sense]
    public var after: [Sense]?

    public init(token: String, id: Int32, before: [Sense], after: [Sense]?) {
        self.token = token; self.id = id; self.before = before; self.after = after
    }

    public static func of(
        _ bp: BackpackLM, tokenizer: BPETokenizer, id: Int32, count: Int, edited: Set<Int> = []
    ) throws -> [Sense] {
        let S = try bp.senses(of: [id])  // (1, k, C)
        let V = bp.vocabSize, C = bp.C
        return (0..<bp.numSenses).map { l in
            var scores = [Float](repeating: 0, count: V)
            Blas.gemm(
                transB: true, M: 1, N: V, K: C, A: S.data + l * C, lda: C, B: bp.embed.value.data, ldb: C, C: &scores,
                ldc: V)
            let order = scores.indices.sorted { scores[$0] > scores[$1] }
            func words(_ ids: ArraySlice<Int>) -> [String] { ids.map { display(tokenizer, Int32($0)) } }
            return Sense(
                sense: l, top: words(order.prefix(count)), bottom: words(order.suffix(count).reversed()[...]),
                edited: edited.contains(l))
        }
    }

    public var text: String {
        func block(_ title: String, _ senses: [Sense]) -> [String] {
            [title]
                + senses.map { s in
                    "  sense \(s.sense)\(s.edited ? " (edited)" : ""): + "
                        + s.top.map { $0.debugDescription }.joined(separator: " ")
                        + "   − " + s.bottom.map { $0.debugDescription }.joined(separator: " ")
                }
        }
        return
            (block("senses of \(token.debugDescription) (id \(id))", before)
            + (after.map { block("after the edit", $0) } ?? [])).joined(separator: "\n")
    }

    /// An SVG table: one row per sense, highest words in green, lowest in red; edited senses marked.
    public var svg: String {
        let rows = before.count * (after == nil ? 1 : 2) + (after == nil ? 1 : 2)
        let width = 1100, rowH = 22, height = rows * rowH + 20
        // XML text: escape markup, and show control characters (invalid in XML) as \xNN.
        func esc(_ s: String) -> String {
            var out = ""
            for u in s.unicodeScalars {
                switch u {
                case "&": out += "&amp;"
                case "<": out += "&lt;"
                case ">": out += "&gt;"
                case _ where u.value < 0x20 || (0x7F...0x9F).contains(u.value):
                    out += String(format: "\\x%02X", u.value)
                default: out.unicodeScalars.append(u)
                }
            }
            return out
        }
        var out = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" "
                + "font-family=\"monospace\" font-size=\"13\">",
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>",
        ]
        var y = 20
        func section(_ title: String, _ senses: [Sense]) {
            out.append("<text x=\"10\" y=\"\(y)\" font-weight=\"bold\">\(esc(title))</text>")
            y += rowH
            for s in senses {
                out.append(
                    "<text x=\"10\" y=\"\(y)\"\(s.edited ? " font-weight=\"bold\"" : "")>sense "
                        + "\(s.sense)\(s.edited ? "*" : "")</text>"
                )
                out.append("<text x=\"100\" y=\"\(y)\" fill=\"#1a7f37\">\(esc(s.top.joined(separator: " · ")))</text>")
                out.append(
                    "<text x=\"600\" y=\"\(y)\" fill=\"#b3261e\">\(esc(s.bottom.joined(separator: " · ")))</text>")
                y += rowH
            }
        }
        section("senses of \(token) (id \(id)): highest-scoring words | lowest-scoring words", before)
        if let after { section("after the edit (* = edited sense)", after) }
        out.append("</svg>")
        return out.joined(separator: "\n")
    }
}

/// A token as readable text: its string when its bytes are valid UTF-8, else its bytes in hex
/// (a byte-level token can be part of a multi-byte character).
func display(_ t: BPETokenizer, _ id: Int32) -> String {
    let bytes = t.bytes(of: id)
    if let s = String(validatingUTF8: bytes.map { CChar(bitPattern: $0) } + [0]) { return s }
    return bytes.map { String(format: "\\x%02X", $0) }.joined()
}
