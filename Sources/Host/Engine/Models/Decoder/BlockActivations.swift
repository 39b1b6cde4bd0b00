import Foundation
import Kernels
import Support

/// One block's activations kept from forward for backward; shapes in comments.
struct BlockActivations {
    let xIn, mean1, rstd1: UnsafeMutablePointer<Float>  // (N, C), (N), (N)
    let q, k, v, probs, att: UnsafeMutablePointer<Float>  // (N, H·D), (N, G·D) ×2, (B, H, T, T), (N, H·D)
    let mid, mean2, rstd2: UnsafeMutablePointer<Float>  // (N, C), (N), (N)
    let gate, up: UnsafeMutablePointer<Float>  // (N, F) each (gate only for gated MLPs)
    // Gemma 3 only (one float otherwise): q and k before their norms, and the sublayer outputs
    // before the post-norms, with the norms' rstd.
    let qRaw, kRaw, qRstd, kRstd: UnsafeMutablePointer<Float>  // (N, H·D), (N, G·D), (N·H), (N·G)
    let attnOut, attnRstd, mlpOut, mlpRstd: UnsafeMutablePointer<Float>  // (N, C), (N), (N, C), (N)
}

extension DecoderLM {
    /// The buffers of one block's activations, named and sized for a (B, T) batch.
    func blockActivations(B: Int, T: Int, _ buffer: (String, Int) -> UnsafeMutablePointer<Float>) -> BlockActivations {
        let sizes = spec.blockActivationSizes(B: B, T: T)
        func b(_ name: String) -> UnsafeMutablePointer<Float> { buffer(name, sizes[name]!) }
        return BlockActivations(
            xIn: b("x"), mean1: b("mean1"), rstd1: b("rstd1"), q: b("q"), k: b("k"), v: b("v"), probs: b("probs"),
            att: b("att"), mid: b("mid"), mean2: b("mean2"), rstd2: b("rstd2"), gate: b("gate"), up: b("up"),
            qRaw: b("qRaw"), kRaw: b("kRaw"), qRstd: b("qRstd"), kRstd: b("kRstd"), attnOut: b("attnOut"),
            attnRstd: b("attnRstd"), mlpOut: b("mlpOut"), mlpRstd: b("mlpRstd"))
    }

    /// Gemma 3's per-head norms: q and k (rows of D) normalised in place, the inputs kept.
    func normalizeHeads(_ b: Block, _ a: BlockActivations, N: Int, scratchMean: UnsafeMutablePointer<Float>) {
        guard let qn = b.qNorm, let kn = b.kNorm else { return }
        let (H, G, D) = (spec.H, spec.G, spec.D)
        a.qRaw.update(from: a.q, count: N * H * D)
        a.kRaw.update(from: a.k, count: N * G * D)
        normForward(qn, out: a.q, mean: scratchMean, rstd: a.qRstd, x: a.qRaw, N: N * H)
        normForward(kn, out: a.k, mean: scratchMean, rstd: a.kRstd, x: a.kRaw, N: N * G)
    }

    /// A sublayer's output (N, C) joins the residual stream x, through its post-norm when the
    /// block has one (Gemma 3), else directly. `out` holds the output.
    func addToResidual(
        _ x: UnsafeMutablePointer<Float>, out: UnsafePointer<Float>, postNorm: Norm?,
        rstd: UnsafeMutablePointer<Float>, N: Int
    ) {
        guard let postNorm else { ce_add(x, out, Int64(N * spec.C)); return }
        let normed = scratch.get("postnorm", N * spec.C)
        normForward(postNorm, out: normed, mean: rstd, rstd: rstd, x: out, N: N)
        ce_add(x, normed, Int64(N * spec.C))
    }
}
