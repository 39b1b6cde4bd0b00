import Foundation

/// The floats a decoder's passes hold, by the buffers DecoderPass asks its scratch for: what a
/// memory plan adds up before the model exists. Shapes as in DecoderPass (N = B·T rows).
extension DecoderSpec {
    /// Rows of logits the output layer computes at a time.
    public static var outputChunkRows: Int { OutputHead.chunkRows }

    /// One block's activations kept from forward for backward, by buffer name (BlockActivations).
    public func blockActivationSizes(B: Int, T: Int) -> [String: Int] {
        let N = B * T
        return [
            "x": N * C, "mean1": N, "rstd1": N, "q": N * H * D, "k": N * G * D, "v": N * G * D,
            "probs": B * H * T * T, "att": N * H * D, "mid": N * C, "mean2": N, "rstd2": N,
            "gate": mlp.isGated ? N * F : 1, "up": N * F,
            "qRaw": qkNorm ? N * H * D : 1, "kRaw": qkNorm ? N * G * D : 1,
            "qRstd": qkNorm ? N * H : 1, "kRstd": qkNorm ? N * G : 1,
            "attnOut": sandwichNorms ? N * C : 1, "attnRstd": sandwichNorms ? N : 1,
            "mlpOut": sandwichNorms ? N * C : 1, "mlpRstd": sandwichNorms ? N : 1,
        ]
    }

    public func blockActivationFloats(B: Int, T: Int) -> Int { blockActivationSizes(B: B, T: T).values.reduce(0, +) }

    /// Buffers every pass shares, per row: the residual stream, a sublayer's normalised input,
    /// the final norm's input and statistics, MLP activations, a fused projection's output.
    public var sharedFloatsPerRow: Int {
        3 * C + 2 + F + (qkv == .separate ? 0 : (H + 2 * G) * D) + (sandwichNorms ? C : 0) + (qkNorm ? H : 0)
    }

    /// Gradient buffers of a backward pass, per row (and T² for one attention matrix).
    public func backwardFloats(B: Int, T: Int) -> Int {
        let perRow =
            5 * C + 3 * F + 2 * H * D + 2 * G * D + 2 + (qkv == .separate ? 0 : (H + 2 * G) * D)
            + (sandwichNorms ? C : 0) + (qkNorm ? H * D : 0)
        return B * T * perRow + T * T
    }
}
