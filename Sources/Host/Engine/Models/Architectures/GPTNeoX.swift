import Foundation
import Support

/// GPT-NeoX (Pythia) settings, mirroring Hugging Face's `config.json` for `model_type: gpt_neox`.
/// Newer transformers write rotary settings under `rope_parameters`; both forms are read.
public struct GPTNeoXConfig: Codable, Equatable {
    public struct RopeParameters: Codable, Equatable {
        public var rope_theta: Double?
        public var partial_rotary_factor: Double?
    }
    public var vocab_size: Int
    public var hidden_size: Int
    public var num_hidden_layers: Int
    public var num_attention_heads: Int
    public var intermediate_size: Int
    public var hidden_act: String?
    public var rotary_pct: Double?
    public var partial_rotary_factor: Double?
    public var rotary_emb_base: Double?
    public var rope_theta: Double?
    public var rope_parameters: RopeParameters?
    public var max_position_embeddings: Int
    public var layer_norm_eps: Double?
    public var use_parallel_residual: Bool?
    public var tie_word_embeddings: Bool?
    public var attention_bias: Bool?

    /// LayerNorm blocks, usually with a parallel residual (x += attn(n1(x)) + mlp(n2(x))), a
    /// fused query_key_value laid out per head, rotary on the first rotary_pct of each head
    /// (half-split pairs), exact GELU, untied embed_out.
    public func spec(source: String) throws -> DecoderSpec {
        let act = hidden_act ?? "gelu"
        guard ["gelu", "gelu_new", "gelu_fast", "gelu_pytorch_tanh"].contains(act) else {
            throw CanonEditError("\(source): hidden_act \(act) is not supported for gpt_neox")
        }
        let D = hidden_size / max(num_attention_heads, 1)
        let pct = rotary_pct ?? partial_rotary_factor ?? rope_parameters?.partial_rotary_factor ?? 0.25
        let base = rotary_emb_base ?? rope_theta ?? rope_parameters?.rope_theta ?? 10000
        return DecoderSpec(
            architecture: "gpt_neox", C: hidden_size, H: num_attention_heads, G: num_attention_heads, D: D,
            F: intermediate_size, L: num_hidden_layers, V: vocab_size, context: max_position_embeddings,
            norm: .layer, normEps: layer_norm_eps ?? 1e-5,
            residual: use_parallel_residual ?? true ? .parallelTwoNorms : .sequential,
            mlp: act == "gelu" ? .geluErf : .geluTanh, qkv: .fusedPerHead,
            attentionBias: attention_bias ?? true, outputBias: attention_bias ?? true, mlpBias: true,
            rotaryDims: Int(Double(D) * pct), rotaryBase: base, rotaryInterleaved: false,
            learnedPositions: false, tiedHead: tie_word_embeddings ?? false, headBias: false, inverseLayerScale: false)
    }

    static let names = DecoderNames(
        embed: "gpt_neox.embed_in.weight", positions: nil, finalNorm: "gpt_neox.final_layer_norm", head: "embed_out",
        layer: { "gpt_neox.layers.\($0)." }, attnNorm: "input_layernorm", mlpNorm: "post_attention_layernorm",
        q: "", k: "", v: "", qkv: "attention.query_key_value", o: "attention.dense",
        gate: nil, up: "mlp.dense_h_to_4h", down: "mlp.dense_4h_to_h")
}

extension Architecture {
    /// GPT-NeoX (Pythia), from a folder.
    static let gptNeoX = Architecture(
        name: "gpt_neox", modelTypes: ["gpt_neox"],
        folderRecipe: { f in
            let cfg = try f.decode(GPTNeoXConfig.self)
            return DecoderRecipe(
                spec: try cfg.spec(source: f.cfgPath), names: GPTNeoXConfig.names, sourceConfig: cfg,
                source: f.cfgPath
            ) { name, shape in
                // Checkpoints written by transformers ≥ 5 in memory name the head lm_head.
                let n =
                    name == "embed_out.weight" && !f.weights.has(name) && f.weights.has("lm_head.weight")
                    ? "lm_head.weight" : name
                return try f.tensor(n, shape, prefixes: ["gpt_neox."])
            }
        })
}
