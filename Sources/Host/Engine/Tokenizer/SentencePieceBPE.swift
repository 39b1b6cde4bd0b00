import Foundation
import Support

/// BPE over Unicode characters, as Hugging Face `tokenizers` runs a BPE model that is not
/// byte-level (SentencePiece-style vocabularies: Gemma, Llama 2, Mistral). Each character is a
/// symbol, or its UTF-8 bytes as `<0xXX>` tokens when the vocabulary lacks it (byte fallback;
/// else the unknown token, consecutive ones fused); then adjacent symbols merge, best merge
/// first, leftmost first among equals. The merges are the file's, in rank order, or, for
/// Gemma's GGUF (no merges; `spaceToMeta`: spaces become "▁"), every (a, b) whose a + b is a
/// token, ranked by the merged token's position in the vocabulary, then the longer left part,
/// as transformers builds them. There, tokens of real spaces ("  ") stand for "▁▁". Spellings
/// are compared as UTF-8 bytes, never as Swift Strings, which would equate "e\u{301}" and "é".
public final class SentencePieceBPE {
    let ids: [[UInt8]: Int32]  // UTF-8 spelling ("▁" for spaces) -> id; a later duplicate wins, as in transformers
    let spellings: [[UInt8]]
    let lengths: [Int32]  // characters (Unicode scalars) per token
    let byteIds: [Int32]  // <0x00>…<0xFF>, -1 when absent
    let unknown: Int32  // -1: none (an unknown character is dropped)
    let byteFallback: Bool
    let spaceToMeta: Bool
    /// The file's merges: (left << 32 | right) -> (rank, merged id); nil: ranked by vocabulary order.
    let ranks: [UInt64: (rank: Int32, merged: Int32)]?
    public let vocab: [String]  // id -> token as the file spells it
    private var pairs: [UInt64: Int32] = [:]  // (left << 32 | right) -> merged id, or -1
    private var cache: [[UInt8]: [Int32]] = [:]  // by UTF-8 bytes (see above)

    public init(
        tokens: [String], unknown: Int32, merges: [(String, String)]? = nil, byteFallback: Bool = true,
        spaceToMeta: Bool = true, source: String = ""
    ) throws {
        vocab = tokens
        self.byteFallback = byteFallback
        self.spaceToMeta = spaceToMeta
        spellings = tokens.map { Array((spaceToMeta ? Self.respell($0) : $0).utf8) }
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (i, t) in spellings.enumerated() { ids[t] = Int32(i) }
        self.ids = ids
        lengths = tokens.map { Int32(Self.respell($0).unicodeScalars.count) }
        byteIds = ByteFallback.spellings.map { ids[$0] ?? -1 }
        self.unknown = unknown
        guard let merges else { ranks = nil; return }
        var table: [UInt64: (rank: Int32, merged: Int32)] = [:]
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = ids[Array(a.utf8)], let ib = ids[Array(b.utf8)], let im = ids[Array((a + b).utf8)] else {
                throw CanonEditError(
                    "\(source): merge #\(rank) \"\(a) \(b)\" uses a token that is not in the vocabulary")
            }
            let key = UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib))
            if table[key] == nil { table[key] = (Int32(rank), im) }
        }
        ranks = table
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
            let bytes = Array(String(spaceToMeta && scalar == " " ? "▁" : scalar).utf8)
            if let id = ids[bytes] {
                symbols.append(id)
            } else if byteFallback, bytes.allSatisfy({ byteIds[Int($0)] >= 0 }) {
                symbols += bytes.map { byteIds[Int($0)] }
            } else if unknown >= 0, symbols.last != unknown {
                symbols.append(unknown)  // consecutive unknown characters fuse into one
            }
        }
        let out = merge(symbols)
        if cache.count < 50_000, key.count < 256 { cache[key] = out }
        return out
    }

    /// The merge of adjacent symbols a, b: its priority (lower first) and merged id, or nil.
    func merged(_ a: Int32, _ b: Int32) -> (priority: Int64, id: Int32)? {
        let key = UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))
        if let ranks { return ranks[key].map { (Int64($0.rank), $0.merged) } }
        if pairs[key] == nil { pairs[key] = ids[spellings[Int(a)] + spellings[Int(b)]] ?? -1 }
        let m = pairs[key]!
        return m >= 0 ? (Int64(m) << 20 | Int64(0xFFFFF - min(lengths[Int(a)], 0xFFFFF)), m) : nil
    }

    /// A candidate merge at `pos` of (left, right) into `id`; lower sorts first.
    struct Candidate: Comparable {
        let priority: Int64, pos: Int32, id: Int32, left: Int32, right: Int32
        static func < (x: Candidate, y: Candidate) -> Bool { (x.priority, x.pos) < (y.priority, y.pos) }
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
            heap.push(Candidate(priority: m.priority, pos: i, id: m.id, left: sym[Int(i)], right: sym[Int(j)]))
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
        if let b = ByteFallback.byte(t) { return [b] }
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
