import Foundation
import Support

/// The part of a tokenizer that turns one pre-tokenized piece into ids: byte-level BPE, the
/// SentencePiece BPE of Gemma and Llama 2, or Unigram. `Tokenizer` does the rest (special
/// tokens, normalisation and pre-tokenization, the start-of-text id, decoding).
public protocol TokenModel: AnyObject {
    func encode(_ piece: String) -> [Int32]
}

extension SentencePieceBPE: TokenModel {}
extension UnigramModel: TokenModel {}

/// Byte-level BPE (GPT-2, GPT-NeoX, Llama 3, Qwen 2 and SmolLM2 vocabularies): a piece's UTF-8
/// bytes through the byte-level alphabet, then adjacent symbols merged lowest rank first.
public final class ByteLevelBPE: TokenModel {
    let ids: [String: Int32]
    let merges: [UInt64: (rank: Int32, merged: Int32)]  // (left id << 32 | right id)
    /// A piece that is itself a token is not merged (tokenizers' ignore_merges, Llama 3).
    let ignoreMerges: Bool
    let byteIds: [Int32]  // id of each single byte symbol (-1 if absent)
    // Keyed by UTF-8 bytes: Swift Strings equate canonically equivalent text ("e\u{301}", "é").
    private var cache: [[UInt8]: [Int32]] = [:]

    init(ids: [String: Int32], merges: [UInt64: (rank: Int32, merged: Int32)], ignoreMerges: Bool) {
        (self.ids, self.merges, self.ignoreMerges) = (ids, merges, ignoreMerges)
        byteIds = (0..<256).map { ids[String(ByteLevelAlphabet.byteToScalar[$0])] ?? -1 }
    }

    /// Merges one pre-token. Symbols are token ids; each round merges the lowest-ranked pair.
    public func encode(_ piece: String) -> [Int32] {
        let key = Array(piece.utf8)
        if let hit = cache[key] { return hit }
        if ignoreMerges, let whole = ids[ByteLevelAlphabet.encode(Array(piece.utf8))] { return [whole] }
        var syms: [Int32] = []
        for b in piece.utf8 {
            let id = byteIds[Int(b)]
            // A vocabulary without this byte drops it (never for byte-level vocabularies).
            if id >= 0 { syms.append(id) }
        }
        while syms.count > 1 {
            var bestRank = Int32.max, bestAt = -1, bestId: Int32 = 0
            for k in 0..<(syms.count - 1) {
                let key = UInt64(UInt32(syms[k])) << 32 | UInt64(UInt32(syms[k + 1]))
                if let m = merges[key], m.rank < bestRank { bestRank = m.rank; bestAt = k; bestId = m.merged }
            }
            if bestAt < 0 { break }
            syms[bestAt] = bestId
            syms.remove(at: bestAt + 1)
        }
        if cache.count < 100_000 { cache[key] = syms }
        return syms
    }
}
