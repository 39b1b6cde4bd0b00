import Foundation
import Support

/// SentencePiece vocabularies in GGUF metadata (`tokenizer.ggml.model = llama`), read as
/// transformers reads them: BPE over characters with byte fallback, control and user-defined
/// tokens matched whole in text, BOS added when the file says so.
///   gemma3: no prefix space, spaces become "▁" before merging, merges ranked by the merged
///           token's position in the vocabulary (user-defined tokens of spaces only are "▁" runs);
///   others (Llama 2, Mistral v0.1): Metaspace with prepend_scheme "first" (add_space_prefix),
///           merges ranked by the merged token's score, then the longer left and right parts.
extension Tokenizer {
    convenience init(sentencePieceGGUF gguf: GGUFFile, tokens: [String]) throws {
        if let merges = gguf.metadata["tokenizer.ggml.merges"]?.array, !merges.isEmpty {
            throw formatError(gguf.path, "tokenizer.ggml.merges in a SentencePiece vocabulary is not supported")
        }
        let gemma = gguf.metadata["general.architecture"]?.string == "gemma3"
        let addSpacePrefix = gguf.metadata["tokenizer.ggml.add_space_prefix"]?.bool ?? !gemma
        if gemma && addSpacePrefix {
            throw formatError(gguf.path, "tokenizer.ggml.add_space_prefix true in a gemma3 file is not supported")
        }
        var specials: [String: Int32] = [:]
        for (i, t) in (gguf.metadata["tokenizer.ggml.token_type"]?.array ?? []).enumerated() where i < tokens.count {
            let spacesOnly = gemma && tokens[i].unicodeScalars.allSatisfy { $0 == " " }
            if t.int == 3 || (t.int == 4 && !spacesOnly) { specials[tokens[i]] = Int32(i) }
        }
        let unknown = Int32(gguf.metadata["tokenizer.ggml.unknown_token_id"]?.int ?? 0)
        let addBOS = gguf.metadata["tokenizer.ggml.add_bos_token"]?.bool ?? true
        let bos = addBOS ? gguf.metadata["tokenizer.ggml.bos_token_id"]?.int.map(Int32.init) : nil
        if gemma {
            try self.init(
                vocab: tokens, merges: [], specials: specials, preTokenizer: PreTokenizer(), source: gguf.path,
                sentencePiece: try SentencePieceBPE(tokens: tokens, unknown: unknown, source: gguf.path), bos: bos)
            return
        }
        guard let scores = gguf.metadata["tokenizer.ggml.scores"]?.array?.compactMap(\.double),
            scores.count == tokens.count
        else {
            throw formatError(gguf.path, "tokenizer.ggml.scores is missing or not one number per token")
        }
        let merges = Self.mergesFromScores(tokens: tokens, scores: scores)
        var decoder: [TextPipeline.DecodeStep] = [.replace("▁", " "), .byteFallback, .fuse]
        if addSpacePrefix { decoder.append(.strip(" ", start: 1, stop: 0)) }
        let pipeline = TextPipeline(
            steps: [.metaspace(replacement: "▁", prepend: addSpacePrefix ? .first : .never, split: false)],
            decoder: decoder)
        try self.init(
            vocab: tokens, merges: [], specials: specials, preTokenizer: PreTokenizer(), source: gguf.path,
            sentencePiece: try SentencePieceBPE(
                tokens: tokens, unknown: unknown, merges: merges, byteFallback: true, spaceToMeta: false,
                source: gguf.path),
            bos: bos, pipeline: pipeline)
    }

    /// The merges a score-ranked vocabulary implies, in transformers' order: every (a, b) with
    /// a, b and a + b tokens; best merged score first, then the longer left part, then the longer
    /// right; ties keep the vocabulary's order, and a token's own splits go by (id of a, id of b).
    static func mergesFromScores(tokens: [String], scores: [Double]) -> [(String, String)] {
        var index: [[UInt8]: Int] = [:]  // the last id of each spelling, as a Python dict keeps it
        var score: [[UInt8]: Double] = [:]
        var order: [[UInt8]] = []  // first appearance
        for (i, t) in tokens.enumerated() {
            let key = Array(t.utf8)
            if index[key] == nil { order.append(key) }
            index[key] = i
            score[key] = scores[i]
        }
        struct Entry { let score: Double, left: Int, right: Int, position: Int, a: String, b: String }
        var entries: [Entry] = []
        for key in order {
            let scalars = Array(String(decoding: key, as: UTF8.self).unicodeScalars)
            var local: [(Int, Int, String, String)] = []
            for k in 1..<max(scalars.count, 1) {
                var a = String.UnicodeScalarView(), b = String.UnicodeScalarView()
                a.append(contentsOf: scalars[..<k])
                b.append(contentsOf: scalars[k...])
                let sa = String(a), sb = String(b)
                if let ia = index[Array(sa.utf8)], let ib = index[Array(sb.utf8)] { local.append((ia, ib, sa, sb)) }
            }
            local.sort { ($0.0, $0.1) < ($1.0, $1.1) }
            for (_, _, sa, sb) in local {
                entries.append(
                    Entry(
                        score: score[key]!, left: sa.unicodeScalars.count, right: sb.unicodeScalars.count,
                        position: entries.count, a: sa, b: sb))
            }
        }
        entries.sort {
            ($0.score, $0.left, $0.right) != ($1.score, $1.left, $1.right)
                ? ($0.score, $0.left, $0.right) > ($1.score, $1.left, $1.right) : $0.position < $1.position
        }
        return entries.map { ($0.a, $0.b) }
    }
}
