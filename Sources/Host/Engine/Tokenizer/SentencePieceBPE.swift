import Foundation
import Support

/// SentencePiece-style BPE over Unicode characters, as Gemma's vocabulary is tokenized (from
/// GGUF metadata, `tokenizer.ggml.model = llama`), matching Hugging Face `tokenizers` on the same
/// file: spaces become "▁"; each character is a symbol, or its UTF-8 bytes as `<0xXX>` tokens
/// when the vocabulary lacks it; then adjacent symbols merge, best merge first, where a merge of
/// (a, b) exists when a + b is a token, and its priority is the merged token's position in the
/// vocabulary (earlier first), then the longer left part, then the leftmost position. Tokens
/// spelled with real spaces ("  ") stand for "▁▁", as transformers reads them. Spellings are
/// compared as UTF-8 bytes, never as Swift Strings, which would equate "e\u{301}" with "é".
public final class SentencePieceBPE {
    let ids: [[UInt8]: Int32]  // UTF-8 spelling ("▁" for spaces) -> id; a later duplicate wins, as in transformers
    let spellings: [[UInt8]]
    let lengths: [Int32]  // characters (Unicode scalars) per token
    let byteIds: [Int32]  // <0x00>…<0xFF>, -1 when absent
    let unknown: Int32
    public let vocab: [String]  // id -> token as the file spells it
    private var pairs: [UInt64: Int32] = [:]  // (left << 32 | right) -> merged id, or -1
    private var cache: [[UInt8]: [Int32]] = [:]  // by UTF-8 bytes (see above)

    public init(tokens: [String], unknown: Int32) {
        vocab = tokens
        spellings = tokens.map { Array(Self.respell($0).utf8) }
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (i, t) in spellings.enumerated() { ids[t] = Int32(i) }
        self.ids = ids
        lengths = tokens.map { Int32(Self.respell($0).unicodeScalars.count) }
        byteIds = (0..<256).map { ids[Array(String(format: "<0x%02X>", $0).utf8)] ?? -1 }
        self.unknown = unknown
    }

    /// A token of spaces only is looked up as that many "▁".
    static func respell(_ t: String) -> String {
        !t.isEmpty && t.unicodeScalars.allSatisfy({ $0 == " " })
            ? String(repeating: "▁", count: t.unicodeScalars.count) : t
    }

    /// The ids of ordinary text (no special tokens in it).
    public func encode(_ text: String) -> [Int32] {
        if text.isEmpty { return [] }
        let key = Array(text.utf8)
        if let hit = cache[key] { return hit }
        var symbols: [Int32] = []
        for scalar in text.unicodeScalars {
            let bytes = Array(String(scalar == " " ? "▁" : scalar).utf8)
            if let id = ids[bytes] {
                symbols.append(id)
            } else {
                for byte in bytes {
                    let b = byteIds[Int(byte)]
                    symbols.append(b >= 0 ? b : unknown)
                }
            }
        }
        let out = merge(symbols)
        if cache.count < 50_000, key.count < 256 { cache[key] = out }
        return out
    }

    /// The merged id of adjacent symbols a, b, or nil.
    func merged(_ a: Int32, _ b: Int32) -> Int32? {
        let key = UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))
        if let m = pairs[key] { return m >= 0 ? m : nil }
        let m = ids[spellings[Int(a)] + spellings[Int(b)]] ?? -1
        pairs[key] = m
        return m >= 0 ? m : nil
    }

    /// A candidate merge at `pos` of (left, right) into `id`; lower sorts first.
    struct Candidate: Comparable {
        let id: Int32, leftLength: Int32, pos: Int32, left: Int32, right: Int32
        static func < (x: Candidate, y: Candidate) -> Bool {
            (x.id, -x.leftLength, x.pos) < (y.id, -y.leftLength, y.pos)
        }
    }

    /// Merges symbols best-first with a heap; stale candidates are skipped when popped.
    func merge(_ start: [Int32]) -> [Int32] {
        var sym = start
        let n = sym.count
        if n < 2 { return sym }
        var next = (0..<n).map { Int32($0 + 1) }, prev = (0..<n).map { Int32($0 - 1) }
        var alive = [Bool](repeating: true, count: n)
        var heap = MinHeap<Candidate>()
        func consider(_ i: Int32) {
            guard i >= 0 else { return }
            let j = next[Int(i)]
            guard Int(j) < n, let m = merged(sym[Int(i)], sym[Int(j)]) else { return }
            heap.push(
                Candidate(id: m, leftLength: lengths[Int(sym[Int(i)])], pos: i, left: sym[Int(i)], right: sym[Int(j)]))
        }
        for i in 0..<(n - 1) { consider(Int32(i)) }
        while let c = heap.pop() {
            let i = Int(c.pos), j = Int(next[i])
            guard alive[i], j < n, alive[j], sym[i] == c.left, sym[j] == c.right else { continue }
            sym[i] = c.id
            alive[j] = false
            next[i] = next[j]
            if Int(next[j]) < n { prev[Int(next[j])] = Int32(i) }
            if prev[i] >= 0 { consider(prev[i]) }
            consider(Int32(i))
        }
        return (0..<n).filter { alive[$0] }.map { sym[$0] }
    }

    /// The bytes of one token: "▁" as a space, <0xXX> as its byte.
    public func bytes(of id: Int32) -> [UInt8] {
        guard id >= 0, Int(id) < vocab.count else { return [] }
        let t = vocab[Int(id)]
        if t.count == 6, t.hasPrefix("<0x"), t.hasSuffix(">"), let b = UInt8(t.dropFirst(3).dropLast(), radix: 16) {
            return [b]
        }
        return Array(t.replacingOccurrences(of: "▁", with: " ").utf8)
    }
}

/// A binary min-heap.
struct MinHeap<Element: Comparable> {
    private var items: [Element] = []

    mutating func push(_ x: Element) {
        items.append(x)
        var i = items.count - 1
        while i > 0, items[i] < items[(i - 1) / 2] {
            items.swapAt(i, (i - 1) / 2)
            i = (i - 1) / 2
        }
    }

    mutating func pop() -> Element? {
        guard let top = items.first else { return nil }
        items[0] = items[items.count - 1]
        items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, items[l] < items[m] { m = l }
            if r < items.count, items[r] < items[m] { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return top
    }
}
