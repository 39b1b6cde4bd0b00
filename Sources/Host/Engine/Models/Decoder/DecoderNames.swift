import Foundation

/// Hugging Face names of a decoder's tensors. Module names have no `.weight` suffix.
public struct DecoderNames {
    public var embed: String  // (V, C)
    public var positions: String?  // (P, C), learned positions only
    public var finalNorm: String  // norm module; .weight (and .bias for LayerNorm)
    public var head: String?  // lm head module; nil when tied to the embedding
    public var layer: (Int) -> String  // prefix of layer l, e.g. "model.layers.3."
    public var attnNorm: String, mlpNorm: String?
    public var q: String, k: String, v: String, qkv: String, o: String
    public var gate: String?, up: String, down: String
    /// Gemma 3: per-head query and key norms, and the norms on each sublayer's output.
    public var qNorm: String? = nil, kNorm: String? = nil
    public var postAttnNorm: String? = nil, postMLPNorm: String? = nil
}
