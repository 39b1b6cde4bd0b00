import Foundation
import Support

/// The config.json fields that Llama-shaped variants share (Qwen 2, Mistral), read from the
/// same JSON object as each variant's own fields.
public struct LlamaVariantFields: Codable, Equatable {
    public var vocab_size: Int
    public var hidden_size: Int
    public var intermediate_size: Int
    public var num_hidden_layers: Int
    public var num_attention_heads: Int
    public var num_key_value_heads: Int?
    public var head_dim: Int?
    public var rms_norm_eps: Double?
    public var rope_theta: Double?
    public var rope_parameters: RotaryParameters?
    public var rope_scaling: RotaryParameters?
    public var max_position_embeddings: Int
    public var tie_word_embeddings: Bool?
    public var hidden_act: String?

    /// The Llama block (RMSNorm, grouped-query attention with rotary over the whole head,
    /// SwiGLU, untied head by default), with biases on q, k and v when `qkvBias`.
    func spec(architecture: String, qkvBias: Bool, source: String) throws -> DecoderSpec {
        _ = try RotaryParameters.check(rope_parameters, scaling: rope_scaling, act: hidden_act, source: source)
        let D = head_dim ?? hidden_size / max(num_attention_heads, 1)
        return DecoderSpec(
            architecture: architecture, C: hidden_size, H: num_attention_heads,
            G: num_key_value_heads ?? num_attention_heads, D: D, F: intermediate_size, L: num_hidden_layers,
            V: vocab_size, context: max_position_embeddings, norm: .rms, normEps: rms_norm_eps ?? 1e-6,
            residual: .sequential, mlp: .swiglu, qkv: .separate, attentionBias: qkvBias, outputBias: false,
            mlpBias: false, rotaryDims: D, rotaryBase: rope_parameters?.rope_theta ?? rope_theta ?? 10000,
            rotaryInterleaved: false, learnedPositions: false, tiedHead: tie_word_embeddings ?? false, headBias: false,
            inverseLayerScale: false)
    }
}

/// The rotary settings newer transformers write as `rope_parameters`; canonedit reads the
/// default rotary only and refuses scaled forms (llama3, yarn, linear, dynamic) by name.
public struct RotaryParameters: Codable, Equatable {
    public var rope_theta: Double?
    public var rope_type: String?
    public var type: String?  // older files' name for rope_type
    public var factor: Double?
    public var low_freq_factor: Double?
    public var high_freq_factor: Double?
    public var original_max_position_embeddings: Double?

    /// Llama 3.1's scaling when `llama3` is allowed and named; every other scaled form refused.
    static func check(
        _ p: RotaryParameters?, scaling: RotaryParameters? = nil, act: String?, source: String, llama3: Bool = false
    ) throws -> RotaryScaling? {
        if let act, act != "silu" { throw CanonEditError("\(source): hidden_act \(act) is not supported (silu)") }
        for r in [p, scaling].compactMap({ $0 }) {
            let type = r.rope_type ?? r.type ?? "default"
            if type == "default" { continue }
            guard type == "llama3", llama3, let f = r.factor, let lo = r.low_freq_factor, let hi = r.high_freq_factor,
                let ctx = r.original_max_position_embeddings, hi > lo
            else {
                throw CanonEditError(
                    "\(source): rope_type \(type) (scaled rotary) is not supported"
                        + (llama3 ? " (default, or llama3 with all four of its settings)" : "; only default"))
            }
            // Each is a divisor or a ratio of lengths: zero, negative or not finite is no scaling.
            for (name, v) in [("factor", f), ("low_freq_factor", lo), ("high_freq_factor", hi)]
            where !(v.isFinite && v > 0) {
                throw CanonEditError("\(source): rope \(name) is \(v); it must be a positive number")
            }
            guard ctx > 0 else {
                throw CanonEditError(
                    "\(source): rope original_max_position_embeddings must be positive, not \(ctx)")
            }
            return RotaryScaling(factor: f, lowFreqFactor: lo, highFreqFactor: hi, originalContext: ctx)
        }
        return nil
    }
}
