import Foundation
import Support

/// GGUF files: the architecture comes from `general.architecture`.
public enum GGUFLoader {
    static func load(path: String) throws -> LoadedModel {
        let g = try GGUFFile(path: path)
        try ModelStore.checkMemory(parameters: g.tensors.values.reduce(0) { $0 + $1.shape.reduce(1, *) }, path: path)
        let arch = try g.string("general.architecture")
        let tok = try BPETokenizer(gguf: g)
        switch arch {
        case "llama":
            let a = "llama."
            let heads = try g.int(a + "attention.head_count")
            let C = try g.int(a + "embedding_length")
            let cfg = LlamaConfig(
                hidden_size: C, intermediate_size: try g.int(a + "feed_forward_length"),
                num_hidden_layers: try g.int(a + "block_count"), num_attention_heads: heads,
                num_key_value_heads: g.metadata[a + "attention.head_count_kv"]?.int ?? heads,
                head_dim: g.metadata[a + "rope.dimension_count"]?.int ?? C / heads,
                rms_norm_eps: try g.double(a + "attention.layer_norm_rms_epsilon"),
                rope_theta: g.metadata[a + "rope.freq_base"]?.double ?? 10000,
                vocab_size: g.metadata[a + "vocab_size"]?.int ?? tok.count,
                max_position_embeddings: try g.int(a + "context_length"),
                tie_word_embeddings: !g.has("output.weight"), rope_interleaved: true)
            let model = try LlamaModel(config: cfg, source: path) { name, shape in
                try g.tensor(ggufName(llama: name), shape: shape)
            }
            let name = g.metadata["general.name"]?.string ?? URL(fileURLWithPath: path).lastPathComponent
            return LoadedModel(model: model, tokenizer: tok, path: path, name: name)
        default:
            throw formatError(path, "general.architecture \"\(arch)\" is not supported in GGUF files (llama)")
        }
    }

    /// Hugging Face parameter name -> llama.cpp tensor name.
    public static func ggufName(llama name: String) -> String {
        let fixed = [
            "model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
            "lm_head.weight": "output.weight",
        ]
        if let f = fixed[name] { return f }
        let parts = name.split(separator: ".")  // model.layers.{i}.{module...}.weight
        guard parts.count >= 5, parts[1] == "layers" else { return name }
        let sub = parts[3...].dropLast().joined(separator: ".")
        let map = [
            "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
            "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
            "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down",
        ]
        return "blk.\(parts[2]).\(map[sub] ?? sub).\(parts.last!)"
    }
}
