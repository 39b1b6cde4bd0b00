import Foundation
import Support

/// GGUF files: the architecture comes from `general.architecture`.
public enum GGUFLoader {
    /// The file's header, metadata and tokenizer; the weights are read by the outline's `load()`.
    static func outline(path: String) throws -> ModelOutline {
        let g = try GGUFFile(path: path)
        let arch = try g.string("general.architecture")
        let tok = try BPETokenizer(gguf: g)
        let recipe: DecoderRecipe
        switch arch {
        case "llama":
            let a = "llama."
            if g.has("rope_freqs.weight") {
                throw formatError(path, "rope_freqs.weight (Llama 3.1's rotary scaling in GGUF) is not supported yet")
            }
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
            recipe = try DecoderRecipe(llama: cfg, source: path) { name, shape in
                try g.weight(ggufName(llama: name), shape: shape)
            }
        case "qwen2":
            // llama.cpp keeps Qwen 2's q/k rows in Hugging Face's order (it rotates half-split pairs).
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
            recipe = DecoderRecipe(
                spec: try fields.spec(architecture: "qwen2", qkvBias: true, source: path), names: LlamaConfig.names,
                source: path
            ) { name, shape in try g.weight(ggufName(llama: name), shape: shape) }
        case "gemma3":
            recipe = try DecoderRecipe(gemma3: try gemma3Config(g), source: path, normsStoreOffset: false) {
                name, shape in try g.weight(ggufName(gemma3: name), shape: shape)
            }
        default:
            throw formatError(
                path, "general.architecture \"\(arch)\" is not supported in GGUF files (llama, qwen2, gemma3)")
        }
        let name = g.metadata["general.name"]?.string ?? URL(fileURLWithPath: path).lastPathComponent
        return ModelOutline(
            path: path, tokenizer: tok, decoder: recipe,
            parameterCount: g.tensors.values.reduce(0) { $0 + $1.shape.reduce(1, *) }, weightBytes: g.residentBytes
        ) { LoadedModel(model: try DecoderLM(recipe), tokenizer: tok, path: path, name: name) }
    }

    /// Gemma 3's settings from llama.cpp's keys. What llama.cpp fixes in code rather than in the
    /// file is filled in the same way: every sixth layer global, the others in a sliding window
    /// with rotary base 10000, scores scaled by key_length^-½.
    static func gemma3Config(_ g: GGUFFile) throws -> Gemma3Config {
        let a = "gemma3."
        let L = try g.int(a + "block_count")
        let pattern = g.metadata[a + "attention.sliding_window_pattern"]?.int ?? 6
        let D = g.metadata[a + "attention.key_length"]?.int ?? 256
        let vocab = g.metadata["tokenizer.ggml.tokens"]?.array?.count ?? 0
        return Gemma3Config(
            vocab_size: g.metadata[a + "vocab_size"]?.int ?? vocab, hidden_size: try g.int(a + "embedding_length"),
            intermediate_size: try g.int(a + "feed_forward_length"), num_hidden_layers: L,
            num_attention_heads: try g.int(a + "attention.head_count"),
            num_key_value_heads: g.metadata[a + "attention.head_count_kv"]?.int, head_dim: D,
            rms_norm_eps: try g.double(a + "attention.layer_norm_rms_epsilon"), query_pre_attn_scalar: Double(D),
            sliding_window: g.metadata[a + "attention.sliding_window"]?.int ?? 512,
            layer_types: (0..<L).map { ($0 + 1) % max(pattern, 1) == 0 ? "full_attention" : "sliding_attention" },
            rope_theta: g.metadata[a + "rope.freq_base"]?.double ?? 1_000_000,
            rope_local_base_freq: g.metadata[a + "rope.freq_base_swa"]?.double ?? 10000,
            max_position_embeddings: try g.int(a + "context_length"), tie_word_embeddings: !g.has("output.weight"))
    }

    /// Hugging Face parameter name -> llama.cpp tensor name, for Gemma 3.
    public static func ggufName(gemma3 name: String) -> String {
        let map = [
            "self_attn.q_norm": "attn_q_norm", "self_attn.k_norm": "attn_k_norm",
            "post_attention_layernorm": "post_attention_norm", "pre_feedforward_layernorm": "ffn_norm",
            "post_feedforward_layernorm": "post_ffw_norm",
        ]
        let parts = name.split(separator: ".")
        if parts.count >= 5, parts[1] == "layers", let m = map[parts[3...].dropLast().joined(separator: ".")] {
            return "blk.\(parts[2]).\(m).\(parts.last!)"
        }
        return ggufName(llama: name)
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
