import Foundation
import Support

/// What distinguishes the decoder-only transformers canonedit runs (Llama, GPT-2, GPT-NeoX,
/// GPT-J, Gemma 3). Each architecture's file turns its `config.json` into one of these and names its
/// tensors; `DecoderLM` does the computing.
public struct DecoderSpec {
    public enum Norm { case rms, layer }
    /// sequential: x += attn(n1(x)); x += mlp(n2(x)).
    /// parallelTwoNorms (GPT-NeoX): x += attn(n1(x)) + mlp(n2(x)).
    /// parallelOneNorm (GPT-J): x += attn(n1(x)) + mlp(n1(x)).
    public enum Residual { case sequential, parallelTwoNorms, parallelOneNorm }
    /// swiglu: down(silu(gate) · up); gegluTanh: down(gelu_tanh(gate) · up) (Gemma);
    /// geluTanh, geluErf: down(gelu(up)).
    public enum MLP {
        case swiglu, gegluTanh, geluTanh, geluErf
        var isGated: Bool { self == .swiglu || self == .gegluTanh }
    }
    /// Separate q, k, v projections, or one fused projection whose output is laid out
    /// [q | k | v] (GPT-2 c_attn) or per head [q_h k_h v_h] (GPT-NeoX query_key_value).
    public enum QKV { case separate, fusedBlocked, fusedPerHead }

    public var architecture: String
    public var C: Int, H: Int, G: Int, D: Int, F: Int, L: Int, V: Int
    public var context: Int
    public var norm: Norm
    public var normEps: Double
    public var residual: Residual
    public var mlp: MLP
    public var qkv: QKV
    public var attentionBias: Bool  // biases on q, k, v (and the fused projection)
    public var outputBias: Bool  // bias on the attention output projection
    public var mlpBias: Bool
    public var rotaryDims: Int  // 0: no rotary embedding
    public var rotaryBase: Double
    public var rotaryInterleaved: Bool  // pairs (2i, 2i+1) instead of (i, i+R/2)
    public var learnedPositions: Bool  // GPT-2's wpe
    public var tiedHead: Bool
    public var headBias: Bool
    /// Extra 1/(l+1) on layer l's attention scores (GPT-2's scale_attn_by_inverse_layer_idx).
    public var inverseLayerScale: Bool
    // Gemma 3's mechanisms; the defaults leave the other families as they are.
    /// An RMSNorm (weight D) on each query and key head after projection, before rotary.
    public var qkNorm = false
    /// Norms on the attention and MLP outputs before they join the residual stream.
    public var sandwichNorms = false
    /// The embedding rows are multiplied by this (Gemma: √C) before the first block.
    public var embedScale: Float = 1
    /// Scores are scaled by attentionScalar^-½ instead of D^-½ (Gemma's query_pre_attn_scalar).
    public var attentionScalar: Double? = nil
    /// Layers whose attention sees only the last `slidingWindow` positions (true per layer;
    /// empty: none), and the rotary base they use instead of rotaryBase.
    public var slidingLayers: [Bool] = []
    public var slidingWindow = 0
    public var localRotaryBase: Double? = nil
    /// Llama 3.1's frequency scaling of the rotary embedding (nil: none).
    public var rotaryScaling: RotaryScaling? = nil

    func attentionScale(layer l: Int) -> Float {
        let base = attentionScalar.map { Float(1 / $0.squareRoot()) } ?? 1 / Float(D).squareRoot()
        return base / (inverseLayerScale ? Float(l + 1) : 1)
    }

    func isSliding(_ l: Int) -> Bool { l < slidingLayers.count && slidingLayers[l] }

    /// The attention window of layer l (0: the whole causal prefix).
    func window(layer l: Int) -> Int { isSliding(l) ? slidingWindow : 0 }

    func validate(_ source: String) throws {
        guard C > 0, H > 0, G > 0, D > 0, F > 0, L > 0, V > 0, context > 0 else {
            throw CanonEditError("\(source): \(architecture) config has a zero or negative size")
        }
        guard normEps.isFinite, normEps > 0, normEps < 1 else {
            throw CanonEditError("\(source): the normalisation epsilon \(normEps) must be a small positive number")
        }
        guard rotaryDims == 0 || (rotaryBase.isFinite && rotaryBase > 1) else {
            throw CanonEditError("\(source): the rotary base \(rotaryBase) must be a finite number above 1")
        }
        guard H % G == 0 else {
            throw CanonEditError("\(source): \(H) attention heads do not divide into \(G) key/value heads")
        }
        guard rotaryDims % 2 == 0, rotaryDims <= D else {
            throw CanonEditError(
                "\(source): rotary dimension \(rotaryDims) must be even and at most the head dimension \(D)")
        }
        guard norm == .rms || !(qkNorm || sandwichNorms) else {
            throw CanonEditError("\(source): query/key norms and sandwich norms are RMSNorms")
        }
        guard slidingLayers.isEmpty || (slidingLayers.count == L && slidingWindow >= 1) else {
            throw CanonEditError(
                "\(source): sliding-window attention needs one layer type per layer (\(slidingLayers.count) for \(L)) "
                    + "and a window of at least 1 (\(slidingWindow))")
        }
        if qkv != .separate, G != H {
            throw CanonEditError("\(source): a fused qkv projection needs as many key/value heads as heads")
        }
    }
}
