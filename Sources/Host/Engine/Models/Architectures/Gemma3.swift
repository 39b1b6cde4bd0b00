import Foundation
import Support

/// Gemma 3 text settings, mirroring Hugging Face's `config.json` for `model_type: gemma3_text`
/// (older files: `rope_theta` and `rope_local_base_freq`; newer: `rope_parameters` per layer type).
public struct Gemma3Config: Codable, Equatable {
    public struct Rope: Codable, Equatable {
        public var rope_theta: Double?
        public var rope_type: String?
    }
    public struct RopeByLayerType: Codable, Equatable {
        public var full_attention: Rope?
        public var sliding_attention: Rope?
    }
    public var vocab_size: Int
    public var hidden_size: Int
    public var intermediate_size: Int
    public var num_hidden_layers: Int
    public var num_attention_heads: Int
    public var num_key_value_heads: Int?
    public var head_dim: Int?
    public var rms_norm_eps: Double?
    public var query_pre_attn_scalar: Double?
    public var sliding_window: Int?
    public var layer_types: [String]?
    public var rope_theta: Double?
    public var rope_local_base_freq: Double?
    public var rope_parameters: RopeByLayerType?
    public var rope_scaling: RotaryParameters?
    public var max_position_embeddings: Int
    public var tie_word_embeddings: Bool?
    public var hidden_activation: String?
    public var final_logit_softcapping: Double?
    public var attn_logit_softcapping: Double?
    public var attention_bias: Bool?

    /// The Gemma 3 decoder: RMSNorm blocks with norms on both sides of attention and the MLP,
    /// RMSNorm on each query and key head, a GeGLU MLP (tanh GELU), embeddings times √C, five of
    /// every six layers attending within a sliding window with their own rotary base, scores
    /// scaled by query_pre_attn_scalar^-½, the head tied to the embedding.
    public func spec(source: String) throws -> DecoderSpec {
        for (name, value) in [
            ("final_logit_softcapping", final_logit_softcapping),
            ("attn_logit_softcapping", attn_logit_softcapping),
        ] where value != nil {
            throw CanonEditError("\(source): \(name) is set; canonedit's Gemma 3 has no logit soft-capping")
        }
        if let act = hidden_activation, act != "gelu_pytorch_tanh", act != "gelu_tanh" {
            throw CanonEditError("\(source): hidden_activation \(act) is not supported for gemma3 (gelu_pytorch_tanh)")
        }
        if let scaling = rope_scaling, (scaling.rope_type ?? scaling.type ?? "default") != "default" {
            throw CanonEditError("\(source): rope_scaling is set; canonedit's Gemma 3 reads only unscaled rotary")
        }
        for rope in [rope_parameters?.full_attention, rope_parameters?.sliding_attention].compactMap({ $0 })
        where (rope.rope_type ?? "default") != "default" {
            throw CanonEditError("\(source): rope_type \(rope.rope_type!) is not supported for gemma3 (default)")
        }
        let L = num_hidden_layers
        let types = layer_types ?? (0..<max(L, 0)).map { ($0 + 1) % 6 == 0 ? "full_attention" : "sliding_attention" }
        guard types.count == L, types.allSatisfy({ $0 == "full_attention" || $0 == "sliding_attention" }) else {
            throw CanonEditError("\(source): layer_types must name full_attention or sliding_attention for each layer")
        }
        let D = head_dim ?? 256
        var spec = DecoderSpec(
            architecture: "gemma3", C: hidden_size, H: num_attention_heads, G: num_key_value_heads ?? 1, D: D,
            F: intermediate_size, L: L, V: vocab_size, context: max_position_embeddings, norm: .rms,
            normEps: rms_norm_eps ?? 1e-6, residual: .sequential, mlp: .gegluTanh, qkv: .separate,
            attentionBias: attention_bias ?? false, outputBias: attention_bias ?? false, mlpBias: false,
            rotaryDims: D, rotaryBase: rope_parameters?.full_attention?.rope_theta ?? rope_theta ?? 1_000_000,
            rotaryInterleaved: false, learnedPositions: false, tiedHead: tie_word_embeddings ?? true, headBias: false,
            inverseLayerScale: false)
        spec.qkNorm = true
        spec.sandwichNorms = true
        spec.embedScale = Float(Double(hidden_size).squareRoot())
        spec.attentionScalar = query_pre_attn_scalar ?? Double(D)
        spec.slidingLayers = types.map { $0 == "sliding_attention" }
        spec.slidingWindow = sliding_window ?? 512
        spec.localRotaryBase = rope_parameters?.sliding_attention?.rope_theta ?? rope_local_base_freq ?? 10000
        return spec
    }

    static let names = DecoderNames(
        embed: "model.embed_tokens.weight", positions: nil, finalNorm: "model.norm", head: "lm_head",
        layer: { "model.layers.\($0)." }, attnNorm: "input_layernorm", mlpNorm: "pre_feedforward_layernorm",
        q: "self_attn.q_proj", k: "self_attn.k_proj", v: "self_attn.v_proj", qkv: "", o: "self_attn.o_proj",
        gate: "mlp.gate_proj", up: "mlp.up_proj", down: "mlp.down_proj", qNorm: "self_attn.q_norm",
        kNorm: "self_attn.k_norm", postAttnNorm: "post_attention_layernorm", postMLPNorm: "post_feedforward_layernorm")

    /// Hugging Face stores each Gemma RMSNorm weight w for a scale of (1 + w); canonedit's norms
    /// scale by their weight, so 1 is added on load (GGUF files store 1 + w already).
    static func isNorm(_ name: String) -> Bool { name.hasSuffix("norm.weight") }
}

extension Architecture {
    /// Gemma 3 (text), from a folder (norms stored as w for a scale of 1 + w) or from
    /// llama.cpp's `gemma3` GGUF (which stores 1 + w).
    static let gemma3 = Architecture(
        name: "gemma3", modelTypes: ["gemma3_text", "gemma3"], ggufName: "gemma3",
        folderRecipe: { f in
            try DecoderRecipe(gemma3: try f.decode(Gemma3Config.self), source: f.cfgPath, normsStoreOffset: true) {
                name, shape in try f.tensor(name, shape, prefixes: ["model."])
            }
        },
        ggufRecipe: { g, _, path in
            try DecoderRecipe(gemma3: try Gemma3Config.gguf(g), source: path, normsStoreOffset: false) {
                name, shape in try g.weight(GGUFLoader.ggufName(gemma3: name), shape: shape)
            }
        },
        folderExport: .likeSource({ name, t in
            guard Gemma3Config.isNorm(name) else { return t }
            let w = t.clone()
            for i in 0..<w.count { w[i] -= 1 }
            return w
        }))
}

extension Gemma3Config {
    /// Gemma 3's settings from llama.cpp's keys. What llama.cpp fixes in code rather than in the
    /// file is filled in the same way: every sixth layer global, the others in a sliding window
    /// with rotary base 10000, scores scaled by key_length^-½.
    static func gguf(_ g: GGUFFile) throws -> Gemma3Config {
        let a = "gemma3."
        let L = try g.int(a + "block_count")
        let pattern = g.metadata[a + "attention.sliding_window_pattern"]?.int ?? 6
        let D = g.metadata[a + "attention.key_length"]?.int ?? 256
        let vocab = g.metadata["tokenizer.ggml.tokens"]?.count ?? 0
        return Gemma3Config(
            vocab_size: g.metadata[a + "vocab_size"]?.int ?? vocab, hidden_size: try g.int(a + "embedding_length"),
            intermediate_size: try g.int(a + "feed_forward_length"), num_hidden_layers: L,
            num_attention_heads: try g.int(a + "attention.head_count"),
            num_key_value_heads: g.metadata[a + "attention.head_count_kv"]?.int, head_dim: D,
            rms_norm_eps: try g.double(a + "attention.layer_norm_rms_epsilon"), query_pre_attn_scalar: Double(D),
            sliding_window: g.metadata[a + "attention.sliding_window"]?.int ?? 512,
            layer_types: (0..<max(L, 0)).map {
                ($0 + 1) % max(pattern, 1) == 0 ? "full_attention" : "sliding_attention"
            },
            rope_theta: g.metadata[a + "rope.freq_base"]?.double ?? 1_000_000,
            rope_local_base_freq: g.metadata[a + "rope.freq_base_swa"]?.double ?? 10000,
            max_position_embeddings: try g.int(a + "context_length"), tie_word_embeddings: !g.has("output.weight"))
    }
}
