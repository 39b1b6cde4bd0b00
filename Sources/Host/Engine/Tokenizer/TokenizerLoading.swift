import Foundation
import Support

extension Tokenizer {
    /// The tokenizer stored in a GGUF file's metadata (`tokenizer.ggml.*`).
    public convenience init(gguf: GGUFFile) throws {
        let model = try gguf.string("tokenizer.ggml.model")
        guard let tokens = gguf.metadata["tokenizer.ggml.tokens"]?.array?.compactMap({ $0.string }) else {
            throw formatError(gguf.path, "tokenizer.ggml.tokens is missing or not a string array")
        }
        if model == "llama" { try self.init(sentencePieceGGUF: gguf, tokens: tokens); return }
        guard model == "gpt2" else {
            throw formatError(
                gguf.path,
                "tokenizer.ggml.model is \"\(model)\"; canonedit reads byte-level BPE (\"gpt2\") vocabularies "
                    + "and Gemma's SentencePiece BPE (\"llama\" in a gemma3 file)")
        }
        let mergeLines = gguf.metadata["tokenizer.ggml.merges"]?.array?.compactMap { $0.string } ?? []
        let merges = try mergeLines.enumerated().map { (i, line) -> (String, String) in
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                throw formatError(gguf.path, "tokenizer.ggml.merges[\(i)] = \"\(line)\" is not two tokens")
            }
            return (String(parts[0]), String(parts[1]))
        }
        // Control (3) and user-defined (4) tokens are matched in text as whole tokens.
        var specials: [String: Int32] = [:]
        if let types = gguf.metadata["tokenizer.ggml.token_type"]?.array {
            for (i, t) in types.enumerated() where i < tokens.count && (t.int == 3 || t.int == 4) {
                specials[tokens[i]] = Int32(i)
            }
        }
        let pre = gguf.metadata["tokenizer.ggml.pre"]?.string ?? "default"
        let preTok: PreTokenizer
        switch pre {
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva":
            preTok = PreTokenizer(individualDigits: true)
        case "default", "gpt-2", "gpt2", "olmo", "jais", "stablelm2":
            preTok = PreTokenizer()
        default:
            // The split regexes of Llama 3 and Qwen 2 families, then bytes (as transformers and
            // llama.cpp read these files; Llama 3's pieces that are whole tokens are not merged).
            guard let split = TextPipeline.ggufSplits[pre] else {
                throw formatError(gguf.path, "tokenizer.ggml.pre \"\(pre)\" is a pre-tokenizer canonedit does not know")
            }
            let pipeline = TextPipeline(
                steps: [
                    .split(.regex(split.regex), .isolated, invert: false),
                    .byteLevel(addPrefixSpace: false, useRegex: false),
                ],
                decoder: [.byteLevel])
            try self.init(
                vocab: tokens, merges: merges, specials: specials, preTokenizer: PreTokenizer(), source: gguf.path,
                pipeline: pipeline, ignoreMerges: split.ignoreMerges)
            return
        }
        try self.init(vocab: tokens, merges: merges, specials: specials, preTokenizer: preTok, source: gguf.path)
    }

    /// A Hugging Face tokenizer folder: `tokenizer.json`, or `vocab.json` + `merges.txt`.
    public convenience init(directory: String) throws {
        let fm = FileManager.default
        let tj = directory + "/tokenizer.json"
        if fm.fileExists(atPath: tj) { try self.init(tokenizerJSON: tj); return }
        let vj = directory + "/vocab.json", mt = directory + "/merges.txt"
        guard fm.fileExists(atPath: vj), fm.fileExists(atPath: mt) else {
            throw CanonEditError("\(directory): no tokenizer.json, nor vocab.json with merges.txt")
        }
        guard let vd = fm.contents(atPath: vj),
            let vocabMap = try? JSONSerialization.jsonObject(with: vd) as? [String: Int]
        else {
            throw formatError(vj, "expected a JSON object of token to id")
        }
        guard let mtext = try? String(contentsOfFile: mt, encoding: .utf8) else {
            throw formatError(mt, "not readable UTF-8")
        }
        var merges: [(String, String)] = []
        for (n, line) in mtext.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if line.hasPrefix("#version") || line.isEmpty { continue }
            let p = line.split(separator: " ")
            guard p.count == 2 else { throw formatError(mt, "line \(n + 1): \"\(line)\" is not two tokens") }
            merges.append((String(p[0]), String(p[1])))
        }
        var specials: [String: Int32] = [:]
        if let id = vocabMap["<|endoftext|>"] { specials["<|endoftext|>"] = Int32(id) }
        try self.init(
            vocab: try Self.denseVocab(vocabMap, extra: [:], source: vj), merges: merges,
            specials: specials, preTokenizer: PreTokenizer(), source: vj)
    }

    public convenience init(tokenizerJSON path: String) throws {
        guard let data = MappedFile.contents(path),
            let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw formatError(path, "not a readable JSON object")
        }
        if let model = root["model"] as? [String: Any], model["type"] as? String == "Unigram" {
            try self.init(unigramJSON: root, model: model, path: path)
            return
        }
        guard let model = root["model"] as? [String: Any], let vocabMap = model["vocab"] as? [String: Int],
            (model["type"] as? String ?? "BPE") == "BPE"
        else {
            let type = (root["model"] as? [String: Any])?["type"] as? String ?? "?"
            throw formatError(
                path, "model type \(type) is not supported: canonedit reads BPE models with a vocab object")
        }
        var merges: [(String, String)] = []
        for (i, m) in ((model["merges"] as? [Any]) ?? []).enumerated() {
            if let s = m as? String {
                let p = s.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
                guard p.count == 2 else { throw formatError(path, "model.merges[\(i)] = \"\(s)\" is not two tokens") }
                merges.append((String(p[0]), String(p[1])))
            } else if let a = m as? [String], a.count == 2 {
                merges.append((a[0], a[1]))
            } else {
                throw formatError(path, "model.merges[\(i)] is neither \"a b\" nor [a, b]")
            }
        }
        let specials = try Self.addedTokens(root, path: path)
        try Self.checkModelOptions(model, path: path)
        let vocab = try Self.denseVocab(vocabMap, extra: specials, source: path)
        let bos = Self.startOfText(root["post_processor"], specials: specials)
        // GPT-2-style files keep the hand scanner; everything else runs as a TextPipeline.
        if root["normalizer"] is NSNull || root["normalizer"] == nil, model["byte_fallback"] as? Bool != true,
            model["ignore_merges"] as? Bool != true, let pre = try? Self.preTokenizer(root["pre_tokenizer"], path: path)
        {
            try self.init(vocab: vocab, merges: merges, specials: specials, preTokenizer: pre, source: path, bos: bos)
            return
        }
        let pipeline = try TextPipeline(json: root, path: path)
        var sentencePiece: SentencePieceBPE? = nil
        if !pipeline.isByteLevel {
            let unk = (model["unk_token"] as? String).flatMap { vocabMap[$0] }.map(Int32.init) ?? -1
            sentencePiece = try SentencePieceBPE(
                tokens: vocab, unknown: unk, merges: merges, byteFallback: model["byte_fallback"] as? Bool ?? false,
                spaceToMeta: false, source: path)
        }
        try self.init(
            vocab: vocab, merges: pipeline.isByteLevel ? merges : [], specials: specials, preTokenizer: PreTokenizer(),
            source: path, sentencePiece: sentencePiece, bos: bos, pipeline: pipeline,
            ignoreMerges: model["ignore_merges"] as? Bool ?? false)
    }

    /// A Unigram model: vocab is [[piece, log-probability], …] in id order.
    convenience init(unigramJSON root: [String: Any], model: [String: Any], path: String) throws {
        guard let list = model["vocab"] as? [[Any]] else {
            throw formatError(path, "model.vocab of a Unigram model must be a list of [piece, score]")
        }
        let vocab = try list.enumerated().map { (i, e) -> (String, Double) in
            guard e.count == 2, let p = e[0] as? String, let score = (e[1] as? NSNumber)?.doubleValue else {
                throw formatError(path, "model.vocab[\(i)] is not [piece, score]")
            }
            return (p, score)
        }
        let specials = try Self.addedTokens(root, path: path)
        let pieces = vocab.map(\.0)
        let unkID = model["unk_id"] as? Int ?? -1
        guard (-1..<pieces.count).contains(unkID) else {
            throw formatError(path, "model.unk_id \(unkID) is outside the vocabulary (0..<\(pieces.count))")
        }
        let unk = Int32(unkID)
        try self.init(
            vocab: pieces, merges: [], specials: specials, preTokenizer: PreTokenizer(), source: path,
            bos: Self.startOfText(root["post_processor"], specials: specials),
            pipeline: try TextPipeline(json: root, path: path),
            unigram: UnigramModel(vocab: vocab, unknown: unk, byteFallback: model["byte_fallback"] as? Bool ?? false))
    }

    /// A tokenizer.json's added tokens (text matched whole -> id), each checked.
    static func addedTokens(_ root: [String: Any], path: String) throws -> [String: Int32] {
        var specials: [String: Int32] = [:]
        for (i, t) in ((root["added_tokens"] as? [[String: Any]]) ?? []).enumerated() {
            guard let c = t["content"] as? String, let id = t["id"] as? Int else {
                throw formatError(path, "added_tokens[\(i)] needs content and id")
            }
            guard id >= 0, id < 1 << 22 else {
                throw formatError(path, "added_tokens[\(i)] has id \(id), outside 0..<\(1 << 22)")
            }
            specials[c] = Int32(id)
        }
        return specials
    }

    /// The special token a TemplateProcessing post-processor puts before a single text (Llama 3's
    /// <|begin_of_text|>, Gemma's <bos>), if any.
    static func startOfText(_ any: Any?, specials: [String: Int32]) -> Int32? {
        guard let obj = any as? [String: Any] else { return nil }
        if obj["type"] as? String == "Sequence" {
            return ((obj["processors"] as? [Any]) ?? []).lazy.compactMap { startOfText($0, specials: specials) }.first
        }
        guard obj["type"] as? String == "TemplateProcessing", let single = obj["single"] as? [[String: Any]],
            let first = single.first?["SpecialToken"] as? [String: Any], let name = first["id"] as? String
        else { return nil }
        return specials[name]
    }

    /// BPE options canonedit does not implement are refused by name. An empty prefix or suffix
    /// means none (transformers writes "" when it saves a tokenizer converted from GGUF).
    static func checkModelOptions(_ model: [String: Any], path: String) throws {
        for key in ["continuing_subword_prefix", "end_of_word_suffix", "dropout"] {
            if let v = model[key], !(v is NSNull), (v as? String)?.isEmpty != true {
                throw formatError(path, "model.\(key) is set (\(v)); canonedit's BPE does not support it")
            }
        }
    }

    /// Reads the pre_tokenizer forms byte-level vocabularies use: ByteLevel, optionally inside
    /// a Sequence after Digits(individual_digits: true).
    static func preTokenizer(_ any: Any?, path: String) throws -> PreTokenizer {
        guard let obj = any as? [String: Any], let type = obj["type"] as? String else {
            throw formatError(path, "pre_tokenizer is missing; canonedit needs a ByteLevel pre-tokenizer")
        }
        switch type {
        case "ByteLevel":
            if let useRegex = obj["use_regex"] as? Bool, !useRegex {
                throw formatError(path, "pre_tokenizer ByteLevel with use_regex false is not supported")
            }
            return PreTokenizer(addPrefixSpace: obj["add_prefix_space"] as? Bool ?? false)
        case "Sequence":
            var out = PreTokenizer()
            var sawByteLevel = false
            for p in (obj["pretokenizers"] as? [[String: Any]]) ?? [] {
                switch p["type"] as? String {
                case "Digits": out.individualDigits = p["individual_digits"] as? Bool ?? false
                case "ByteLevel":
                    out.addPrefixSpace = p["add_prefix_space"] as? Bool ?? false
                    sawByteLevel = true
                default:
                    throw formatError(
                        path, "pre_tokenizer step \(p["type"] ?? "?") is not supported (Digits, ByteLevel)")
                }
            }
            guard sawByteLevel else { throw formatError(path, "pre_tokenizer Sequence has no ByteLevel step") }
            return out
        default:
            throw formatError(path, "pre_tokenizer type \(type) is not supported (ByteLevel or Sequence)")
        }
    }

    /// Turns {token: id} into an id-indexed array, checking ids are dense.
    static func denseVocab(_ map: [String: Int], extra: [String: Int32], source: String) throws -> [String] {
        let top = max((map.values.max() ?? -1), Int(extra.values.max() ?? -1))  // + 1 only once it is bounded
        guard top < 1 << 22 else {
            throw formatError(source, "vocabulary ids reach \(top), over the limit of \(1 << 22)")
        }
        let n = top + 1
        var vocab = [String?](repeating: nil, count: n)
        for (t, id) in map {
            guard id >= 0 else { throw formatError(source, "token \(t) has negative id \(id)") }
            vocab[id] = t
        }
        for (t, id) in extra {
            guard id >= 0, Int(id) < n else {
                throw formatError(source, "special token \(t) has id \(id), outside the vocabulary")
            }
            if vocab[Int(id)] == nil { vocab[Int(id)] = t }
        }
        if let hole = vocab.firstIndex(where: { $0 == nil }) {
            throw formatError(source, "vocabulary has no token with id \(hole)")
        }
        return vocab.map { $0! }
    }
}
