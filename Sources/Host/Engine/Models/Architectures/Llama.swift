import Foundation
import Support

/// Llama settings, mirroring Hugging Face's `config.json` for `model_type: llama`.
public struct LlamaConfig: Codable, Equatable {
    public var hidden_size: Int  // C
    public var intermediate_size: Int  // F
    public var num_hidden_layers: Int  // L
    public var num_attention_heads: Int  // H
    public var num_key_value_heads: Int?  // G (defaults to H)
    public var head_dim: Int?  // D (defaults to C/H)
    public var rms_norm_eps: Double
    public var rope_theta: Double?
    public var vocab_size: Int  // V
    public var max_position_embeddings: Int
    public var tie_word_embeddings: Bool?
    /// Newer transformers write rope_theta under rope_parameters; scaled rotary is refused.
    public var rope_parameters: RotaryParameters?
    public var rope_scaling: RotaryParameters?
    public var hidden_act: String?
    /// Not in config.json: GGUF files store q/k rows permuted for rotation of adjacent pairs.
    public var rope_interleaved: Bool?

    var C: Int { hidden_size }
    var H: Int { num_attention_heads }
    var G: Int { num_key_value_heads ?? num_attention_heads }
    public var D: Int { head_dim ?? hidden_size / max(num_attention_heads, 1) }  // 0 heads: DecoderSpec.check

    /// The Llama decoder (SmolLM2, Llama 2/3): pre-RMSNorm blocks of grouped-query causal
    /// attention with rotary positions over the whole head (Llama 3.1's scaling when named) and
    /// a SwiGLU MLP, no biases.
    public var spec: DecoderSpec {
        var spec = DecoderSpec(
            architecture: "llama", C: C, H: H, G: G, D: D, F: intermediate_size, L: num_hidden_layers, V: vocab_size,
            context: max_position_embeddings, norm: .rms, normEps: rms_norm_eps, residual: .sequential, mlp: .swiglu,
            qkv: .separate, attentionBias: false, outputBias: false, mlpBias: false, rotaryDims: D,
            rotaryBase: rope_parameters?.rope_theta ?? rope_theta ?? 10000, rotaryInterleaved: rope_interleaved == true,
            learnedPositions: false,
            tiedHead: tie_word_embeddings ?? true, headBias: false, inverseLayerScale: false)
        spec.rotaryScaling = try? RotaryParameters.check(
            rope_parameters, scaling: rope_scaling, act: nil, source: "", llama3: true)
        return spec
    }

    static let names = DecoderNames(
        embed: "model.embed_tokens.weight", positions: nil, finalNorm: "model.norm", head: "lm_head",
        layer: { "model.layers.\($0)." }, attnNorm: "input_layernorm", mlpNorm: "post_attention_layernorm",
        q: "self_attn.q_proj", k: "self_attn.k_proj", v: "self_attn.v_proj", qkv: "", o: "self_attn.o_proj",
        gate: "mlp.gate_proj", up: "mlp.up_proj", down: "mlp.down_proj")
}

public typealias LlamaModel = DecoderLM

extension DecoderLM {
    public var config: LlamaConfig? { sourceConfig as? LlamaConfig }
}

extension Architecture {
    /// Llama (SmolLM2, Llama 2, Llama 3.x), from a folder or from llama.cpp's `llama` GGUF,
    /// whose q/k rows are permuted for rotation of adjacent pairs.
    static let llama = Architecture(
        name: "llama", modelTypes: ["llama"], ggufName: "llama",
        folderRecipe: { f in
            try DecoderRecipe(llama: try f.decode(LlamaConfig.self), source: f.cfgPath) { name, shape in
                try f.tensor(name, shape, prefixes: ["model."])
            }
        },
        ggufRecipe: { g, tok, path in
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
                head_dim: g.metadata[a + "rope.dimension_count"]?.int ?? C / max(heads, 1),
                rms_norm_eps: try g.double(a + "attention.layer_norm_rms_epsilon"),
                rope_theta: g.metadata[a + "rope.freq_base"]?.double ?? 10000,
                vocab_size: g.metadata[a + "vocab_size"]?.int ?? tok.count,
                max_position_embeddings: try g.int(a + "context_length"),
                tie_word_embeddings: !g.has("output.weight"), rope_interleaved: true)
            return try DecoderRecipe(llama: cfg, source: path) { name, shape in
                try g.weight(GGUFLoader.ggufName(llama: name), shape: shape)
            }
        },
        folderExport: .ownConfig, ggufExport: true)
}
