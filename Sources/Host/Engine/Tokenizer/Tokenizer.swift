import Foundation
import Support

/// A model's tokenizer: special tokens, a tokenizer.json's normalizers and pre-tokenizer (or
/// GPT-2's pattern), and one `TokenModel` for the pieces (byte-level BPE, SentencePiece BPE
/// or Unigram).
///
/// encode: split out special tokens, normalise and pre-tokenize, then the model encodes each
/// piece. decode: the reverse, exact for any id sequence whose bytes form valid UTF-8. `bos`,
/// when set, is the id the model expects at the start of every text (`startOfText`).
public final class Tokenizer {
    public let vocab: [String]  // id -> token string (byte-level alphabet)
    let ids: [String: Int32]
    public let mergeList: [(String, String)]  // rank order, as read
    public let specials: [String: Int32]  // text that maps straight to one id
    let specialsByFirstByte: [UInt8: [([UInt8], Int32)]]  // longest first
    public let preTokenizer: PreTokenizer
    public let sentencePiece: SentencePieceBPE?
    public let bos: Int32?
    /// A tokenizer.json's normalizers, pre-tokenizer steps and decoder (nil: GPT-2's pattern above).
    public let pipeline: TextPipeline?
    /// A Unigram vocabulary instead of BPE (tokenizer.json with model type Unigram).
    public let unigram: UnigramModel?
    /// What encodes each piece: `unigram`, else `sentencePiece`, else byte-level BPE.
    public let model: TokenModel

    public var count: Int { vocab.count }

    /// `merges` are pairs of vocabulary strings in rank order.
    public init(
        vocab: [String], merges: [(String, String)], specials: [String: Int32],
        preTokenizer: PreTokenizer, source: String, sentencePiece: SentencePieceBPE? = nil, bos: Int32? = nil,
        pipeline: TextPipeline? = nil, ignoreMerges: Bool = false, unigram: UnigramModel? = nil
    ) throws {
        self.pipeline = pipeline
        self.unigram = unigram
        self.vocab = vocab
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(vocab.count)
        for (i, t) in vocab.enumerated() where ids[t] == nil { ids[t] = Int32(i) }
        self.ids = ids
        var table: [UInt64: (Int32, Int32)] = [:]
        table.reserveCapacity(merges.count)
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = ids[a], let ib = ids[b], let im = ids[a + b] else {
                throw CanonEditError(
                    "\(source): merge #\(rank) \"\(a) \(b)\" uses a token that is not in the vocabulary")
            }
            let key = UInt64(UInt32(ia)) << 32 | UInt64(UInt32(ib))
            if table[key] == nil { table[key] = (Int32(rank), im) }
        }
        mergeList = merges
        let byteLevel = ByteLevelBPE(
            ids: ids, merges: table.mapValues { (rank: $0.0, merged: $0.1) }, ignoreMerges: ignoreMerges)
        if let unigram {
            model = unigram
        } else if let sentencePiece {
            model = sentencePiece
        } else {
            model = byteLevel
        }
        for (text, id) in specials where id < 0 || Int(id) >= vocab.count {
            throw CanonEditError(
                "\(source): special token \(text) has id \(id) outside the vocabulary of \(vocab.count)")
        }
        self.specials = specials
        var byFirst: [UInt8: [([UInt8], Int32)]] = [:]
        for (text, id) in specials where !text.isEmpty {
            byFirst[text.utf8.first!, default: []].append((Array(text.utf8), id))
        }
        specialsByFirstByte = byFirst.mapValues {
            $0.sorted { $0.0.count > $1.0.count || ($0.0.count == $1.0.count && $0.1 < $1.1) }
        }
        self.preTokenizer = preTokenizer
        self.sentencePiece = sentencePiece
        if let bos, bos < 0 || Int(bos) >= vocab.count {
            throw CanonEditError("\(source): the start-of-text id \(bos) is outside the vocabulary of \(vocab.count)")
        }
        self.bos = bos
    }

    public func encode(_ text: String) -> [Int32] {
        var out: [Int32] = []
        for (k, (segment, special)) in splitSpecials(text).enumerated() {
            if let special { out.append(special); continue }
            if let pipeline {
                for piece in pipeline.preTokenize(pipeline.normalize(segment), atStart: k == 0) {
                    out += model.encode(piece)
                }
                continue
            }
            // Without a pipeline, SentencePiece (from GGUF) takes the whole segment.
            if sentencePiece != nil { out += model.encode(segment); continue }
            for piece in preTokenizer.split(segment) { out += model.encode(piece) }
        }
        return out
    }

    /// A text that starts a sequence: the start-of-text id first when the model expects one.
    public func startOfText(_ text: String) -> [Int32] { (bos.map { [$0] } ?? []) + encode(text) }

    /// Text cut into runs of ordinary text and special tokens (longest special wins).
    func splitSpecials(_ text: String) -> [(String, Int32?)] {
        if specials.isEmpty { return [(text, nil)] }
        let bytes = Array(text.utf8)
        var parts: [(String, Int32?)] = []
        var start = 0, i = 0
        while i < bytes.count {
            if let candidates = specialsByFirstByte[bytes[i]] {
                let best = candidates.first { u, _ in
                    u.count <= bytes.count - i && bytes[i..<(i + u.count)].elementsEqual(u)
                }
                if let (u, id) = best {
                    let n = u.count
                    if start < i { parts.append((String(decoding: bytes[start..<i], as: UTF8.self), nil)) }
                    parts.append(("", id))
                    i += n
                    start = i
                    continue
                }
            }
            i += 1
        }
        if start < bytes.count { parts.append((String(decoding: bytes[start...], as: UTF8.self), nil)) }
        return parts
    }

    public func id(of token: String) -> Int32? { ids[token] }

    /// The bytes of one token (special tokens give their text).
    public func bytes(of id: Int32) -> [UInt8] {
        guard id >= 0, Int(id) < vocab.count else { return [] }
        if let sentencePiece {
            return specials[vocab[Int(id)]] == id ? Array(vocab[Int(id)].utf8) : sentencePiece.bytes(of: id)
        }
        let t = vocab[Int(id)]
        if let b = ByteLevelAlphabet.decode(t) { return b }
        return Array(t.utf8)
    }

    public func decode(_ ids: [Int32]) -> String {
        if let pipeline {
            let tokens = ids.map { $0 >= 0 && Int($0) < vocab.count ? vocab[Int($0)] : "" }
            return String(decoding: pipeline.decode(tokens), as: UTF8.self)
        }
        var bytes: [UInt8] = []
        for id in ids {
            if sentencePiece != nil {
                bytes += self.bytes(of: id)
            } else if specials.values.contains(id) && ByteLevelAlphabet.decode(vocab[Int(id)]) == nil {
                bytes += Array(vocab[Int(id)].utf8)
            } else {
                bytes += self.bytes(of: id)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
