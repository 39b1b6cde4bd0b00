import Foundation
import Kernels
import Support

extension DecoderLM {
    /// d(sublayer output) from d(block output): through the post-norm when there is one (its
    /// weight's gradient accumulated), else dout itself.
    func postNormBackward(
        _ norm: Norm?, dout: UnsafeMutablePointer<Float>, out: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        N: Int
    ) -> UnsafeMutablePointer<Float> {
        guard let norm else { return dout }
        let d = scratch.get("dpostnorm", N * spec.C)
        d.update(repeating: 0, count: N * spec.C)
        normBackward(norm, dx: d, dout: dout, x: out, mean: rstd, rstd: rstd, N: N)
        return d
    }

    /// dq, dk (after rotary's backward) become the gradients of q and k before their norms.
    func headNormsBackward(
        _ b: Block, _ a: BlockActivations, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, N: Int
    ) {
        guard let qn = b.qNorm, let kn = b.kNorm else { return }
        let (H, G, D) = (spec.H, spec.G, spec.D)
        for (norm, d, raw, rstd, rows) in [(qn, dq, a.qRaw, a.qRstd, N * H), (kn, dk, a.kRaw, a.kRstd, N * G)] {
            let dRaw = scratch.get("dheadnorm", rows * D)
            dRaw.update(repeating: 0, count: rows * D)
            normBackward(norm, dx: dRaw, dout: d, x: raw, mean: rstd, rstd: rstd, N: rows)
            d.update(from: dRaw, count: rows * D)
        }
    }
}
