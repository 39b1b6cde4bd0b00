import Foundation
import Support

/// The tokenizer files of a Hugging Face folder written from a loaded tokenizer: tokenizer.json
/// with every field the `tokenizers` library requires, and tokenizer_config.json,
/// special_tokens_map.json and generation_config.json naming the special tokens (and the chat
/// template) the source GGUF declares, so that `AutoTokenizer` loads the folder and
/// `model.generate` stops where the source model does.
public struct TokenizerExport {
    /// Special tokens as ids, with the source's chat template.
    public var bos: Int?, eos: Int?, pad: Int?, unk: Int?
    public var addBOS = false
    public var chatTemplate: String?

    public init() {}

    /// What a GGUF file's `tokenizer.*` metadata says.
    public init(gguf g: GGUFFile) {
        let m = g.metadata
        (bos, eos) = (m["tokenizer.ggml.bos_token_id"]?.int, m["tokenizer.ggml.eos_token_id"]?.int)
        (pad, unk) = (m["tokenizer.ggml.padding_token_id"]?.int, m["tokenizer.ggml.unknown_token_id"]?.int)
        addBOS = m["tokenizer.ggml.add_bos_token"]?.bool ?? false
        chatTemplate = m["tokenizer.chat_template"]?.string
    }

    /// Writes the four files into `dir`.
    public func write(_ tok: Tokenizer, contextLength: Int, to dir: String) throws {
        func token(_ id: Int?) -> String? { id.flatMap { $0 >= 0 && $0 < tok.count ? tok.vocab[$0] : nil } }
        var config: [String: Any] = [
            "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": contextLength,
            "clean_up_tokenization_spaces": false, "add_bos_token": addBOS, "add_eos_token": false,
        ]
        var map: [String: Any] = [:]
        for (key, id) in [("bos_token", bos), ("eos_token", eos), ("pad_token", pad), ("unk_token", unk)] {
            if let t = token(id) { (config[key], map[key]) = (t, t) }
        }
        config["chat_template"] = chatTemplate
        var generation: [String: Any] = ["do_sample": false]
        (generation["bos_token_id"], generation["eos_token_id"], generation["pad_token_id"]) = (bos, eos, pad)
        let json: (Any) throws -> Data = {
            try JSONSerialization.data(
                withJSONObject: $0, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        }
        try AtomicFile.write(try tok.tokenizerJSON(startOfText: addBOS ? bos : nil), to: dir + "/tokenizer.json")
        try AtomicFile.write(try json(config), to: dir + "/tokenizer_config.json")
        try AtomicFile.write(try json(map), to: dir + "/special_tokens_map.json")
        try AtomicFile.write(try json(generation), to: dir + "/generation_config.json")
    }
}

extension Tokenizer {
    /// A Hugging Face `tokenizer.json` for this byte-level BPE vocabulary; `startOfText` is an id
    /// put before every text by the post-processor (a model that expects BOS).
    public func tokenizerJSON(startOfText: Int? = nil) throws -> Data {
        guard pipeline == nil, sentencePiece == nil, unigram == nil else {
            throw CanonEditError(
                "this tokenizer is not GPT-2-style byte-level BPE; canonedit cannot write it as tokenizer.json")
        }
        var vocabMap: [String: Int] = [:]
        for (i, t) in vocab.enumerated() where vocabMap[t] == nil { vocabMap[t] = i }
        var pre: [[String: Any]] = []
        if preTokenizer.individualDigits { pre.append(["type": "Digits", "individual_digits": true]) }
        let byteLevel: [String: Any] = [
            "type": "ByteLevel", "add_prefix_space": preTokenizer.addPrefixSpace, "trim_offsets": true,
            "use_regex": true,
        ]
        pre.append(byteLevel)
        var post: Any = NSNull()
        if let id = startOfText, id >= 0, id < count {
            let t = vocab[id]
            post =
                [
                    "type": "TemplateProcessing",
                    "single": [["SpecialToken": ["id": t, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]]],
                    "pair": [
                        ["SpecialToken": ["id": t, "type_id": 0]], ["Sequence": ["id": "A", "type_id": 0]],
                        ["SpecialToken": ["id": t, "type_id": 1]], ["Sequence": ["id": "B", "type_id": 1]],
                    ],
                    "special_tokens": [t: ["id": t, "ids": [id], "tokens": [t]]],
                ] as [String: Any]
        }
        let root: [String: Any] = [
            "version": "1.0", "truncation": NSNull(), "padding": NSNull(), "normalizer": NSNull(),
            "added_tokens": specials.sorted { $0.value < $1.value }.map {
                [
                    "id": Int($0.value), "content": $0.key, "single_word": false, "lstrip": false, "rstrip": false,
                    "normalized": false, "special": true,
                ] as [String: Any]
            },
            "pre_tokenizer": ["type": "Sequence", "pretokenizers": pre],
            "post_processor": post,
            "decoder": byteLevel,
            "model": [
                "type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                "vocab": vocabMap, "merges": mergeList.map { [$0.0, $0.1] },
            ] as [String: Any],
        ]
        return try JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .withoutEscapingSlashes])
    }
}
