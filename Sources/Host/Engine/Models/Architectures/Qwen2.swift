import Foundation
import Support

/// Qwen 2 / 2.5 settings, mirroring Hugging Face's `config.json` for `model_type: qwen2`: the
/// Llama block with biases on the q, k and v projections (not on o), usually an untied head.
public struct Qwen2Config: Decodable {
    public var fields: LlamaVariantFields
    public var use_sliding_window: Bool?

    enum Keys: String, CodingKey { case use_sliding_window }

    public init(from decoder: Decoder) throws {
        fields = try LlamaVariantFields(from: decoder)
        use_sliding_window = try decoder.container(keyedBy: Keys.self).decodeIfPresent(
            Bool.self, forKey: .use_sliding_window)
    }

    public func spec(source: String) throws -> DecoderSpec {
        guard use_sliding_window != true else {
            throw CanonEditError("\(source): use_sliding_window is true; canonedit's Qwen 2 attends to every position")
        }
        return try fields.spec(architecture: "qwen2", qkvBias: true, source: source)
    }
}

extension Architecture {
    /// Qwen 2 / 2.5: the Llama block and names, from a folder or from llama.cpp's `qwen2` GGUF
    /// (which keeps q/k rows in Hugging Face's order: it rotates half-split pairs).
    static let qwen2 = Architecture(
        name: "qwen2", modelTypes: ["qwen2"], ggufName: "qwen2",
        folderRecipe: { f in
            DecoderRecipe(
                spec: try f.decode(Qwen2Config.self).spec(source: f.cfgPath), names: LlamaConfig.names,
                source: f.cfgPath
            ) { name, shape in try f.tensor(name, shape, prefixes: ["model."]) }
        },
        ggufRecipe: { g, tok, path in
            let a = "qwen2."
            let fields = LlamaVariantFields(
                vocab_size: g.metadata[a + "vocab_size"]?.int ?? tok.count,
                hidden_size: try g.int(a + "embedding_length"),
                intermediate_size: try g.int(a + "feed_forward_length"),
                num_hidden_layers: try g.int(a + "block_count"),
                num_attention_heads: try g.int(a + "attention.head_count"),
                num_key_value_heads: g.metadata[a + "attention.head_count_kv"]?.int,
                rms_norm_eps: try g.double(a + "attention.layer_norm_rms_epsilon"),
                rope_theta: g.metadata[a + "rope.freq_base"]?.double ?? 1_000_000,
                max_position_embeddings: try g.int(a + "context_length"), tie_word_embeddings: !g.has("output.weight"))
            return DecoderRecipe(
                spec: try fields.spec(architecture: "qwen2", qkvBias: true, source: path), names: LlamaConfig.names,
                source: path
            ) { name, shape in try g.weight(GGUFLoader.ggufName(llama: name), shape: shape) }
        })
}
