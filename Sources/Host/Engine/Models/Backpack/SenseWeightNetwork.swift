import Foundation
import Kernels
import Support

/// A Backpack's contextualization weights: hidden states H (N, C) from a transformer,
/// optionally layer-normalised, projected to k query/key pairs of width d;
///   α[ℓ] = causal softmax(q_ℓ k_ℓᵀ / √d)      (B, k, T, T)
/// The transformer is either a whole GPT-2 (stanfordnlp/backpack-gpt2, trainable) or the
/// bottom blocks of a base model, frozen (a companion Backpack reads its residual stream).
final class SenseWeightNetwork {
    enum Encoder {
        case full(DecoderLM)
        case prefix(DecoderLM, layers: Int)
    }
    let encoder: Encoder
    let norm: (weight: Parameter, bias: Parameter)?
    let proj: Linear  // C → 2·k·d: [q_0 … q_{k-1} | k_0 … k_{k-1}]
    let k: Int, d: Int, C: Int
    let scratch: Scratch
    private var pass: DecoderPassState?  // the GPT-2 pass, kept for backward

    init(encoder: Encoder, norm: (Parameter, Parameter)?, proj: Linear, senses k: Int, scratch: Scratch) {
        self.encoder = encoder
        self.norm = norm.map { (weight: $0.0, bias: $0.1) }
        self.proj = proj
        self.k = k
        C = proj.inFeatures
        d = proj.outFeatures / (2 * k)
        self.scratch = scratch
    }

    var decoder: DecoderLM {
        switch encoder {
        case .full(let m), .prefix(let m, _): return m
        }
    }
    var ownParameters: [Parameter] {
        (norm.map { [$0.weight, $0.bias] } ?? []) + [proj.weight] + (proj.bias.map { [$0] } ?? [])
    }
    /// The base model of a prefix encoder is not the Backpack's: it is neither listed nor trained.
    var parameters: [Parameter] {
        if case .full(let g) = encoder { return g.parameters + ownParameters }
        return ownParameters
    }
    var linears: [Linear] {
        if case .full(let g) = encoder { return g.linears + [proj] }
        return [proj]
    }
    /// Layers below which a residual state can be saved and resumed (prefix encoders only).
    var frozenLayers: Int {
        if case .prefix(_, let n) = encoder { return n }
        return 0
    }
    var encoderTrains: Bool {
        guard case .full(let g) = encoder else { return false }
        return g.lowestTrainedBlock < g.spec.L || g.finalNorm.weight.requiresGrad
            || g.finalNorm.bias?.requiresGrad == true
    }
    var trains: Bool {
        proj.trains || norm?.weight.requiresGrad == true || norm?.bias.requiresGrad == true || encoderTrains
    }

    /// α (B, k, T, T). With `train` the intermediate states are kept for `backward`.
    func forward(tokens: [Int32], B: Int, T: Int, train: Bool, hooks: RunHooks?) throws -> UnsafeMutablePointer<Float> {
        let N = B * T, s = scratch
        let H = s.get("w.H", N * C)
        switch encoder {
        case .full(let g):
            let st = try g.forward(tokens: tokens, B: B, T: T, train: train && encoderTrains, hooks: nil)
            H.update(from: st.hidden, count: N * C)
            pass = st
        case .prefix(let base, let n):
            if let r = hooks?.resume {
                guard r.layer == n, r.x.count == N * C else {
                    throw CanonEditError(
                        "a saved state for layer \(r.layer) does not fit this Backpack's \(n)-block prefix")
                }
                H.update(from: r.x.data, count: N * C)
            } else {
                let st = try base.forward(tokens: tokens, B: B, T: T, train: false, hooks: nil, stopBefore: n)
                H.update(from: st.hidden, count: N * C)
                hooks?.save(layer: n, x: H, N: N, C: C)
            }
        }
        var x = UnsafePointer(H)
        if let norm {
            let Hn = s.get("w.Hn", N * C)
            ce_layernorm_forward(
                Hn, s.get("w.mean", N), s.get("w.rstd", N), H, norm.weight.value.data, norm.bias.value.data,
                Int64(N), Int32(C), 1e-5)
            x = UnsafePointer(Hn)
        }
        let W = 2 * k * d
        let qk = s.get("w.qk", N * W), alpha = s.get("w.alpha", B * k * T * T)
        proj.forward(qk, x, N: N)
        let scale = 1 / Float(d).squareRoot()
        for b in 0..<B {
            for l in 0..<k {
                let q = qk + b * T * W + l * d, kk = qk + b * T * W + k * d + l * d  // rows stride W
                let P = alpha + (b * k + l) * T * T
                Blas.gemm(transB: true, M: T, N: T, K: d, alpha: scale, A: q, lda: W, B: kk, ldb: W, C: P, ldc: T)
                ce_causal_softmax(P, Int32(T))
            }
        }
        return alpha
    }

    /// dα (B, k, T, T), overwritten, into the projection, the norm and a trainable encoder.
    func backward(dAlpha: UnsafeMutablePointer<Float>, B: Int, T: Int) throws {
        let N = B * T, W = 2 * k * d, s = scratch
        let qk = s.get("w.qk", N * W), alpha = s.get("w.alpha", B * k * T * T), dqk = s.zeroed("w.dqk", N * W)
        let scale = 1 / Float(d).squareRoot()
        for b in 0..<B {
            for l in 0..<k {
                let P = alpha + (b * k + l) * T * T, dP = dAlpha + (b * k + l) * T * T
                ce_causal_softmax_backward(dP, P, Int32(T))
                let q = qk + b * T * W + l * d, kk = qk + b * T * W + k * d + l * d
                Blas.gemm(
                    M: T, N: d, K: T, alpha: scale, A: dP, lda: T, B: kk, ldb: W, beta: 1, C: dqk + b * T * W + l * d,
                    ldc: W)
                Blas.gemm(
                    transA: true, M: T, N: d, K: T, alpha: scale, A: dP, lda: T, B: q, ldb: W, beta: 1,
                    C: dqk + b * T * W + k * d + l * d, ldc: W)
            }
        }
        let H = s.get("w.H", N * C)
        let wantDH = encoderTrains
        if let norm {
            let Hn = s.get("w.Hn", N * C), dHn = s.zeroed("w.dHn", N * C)
            proj.backward(dx: dHn, dout: dqk, x: Hn, N: N)
            let dH = s.zeroed("w.dH", N * C)
            ce_layernorm_backward(
                dH, norm.weight.activeGrad, norm.bias.activeGrad, dHn, H, norm.weight.value.data,
                s.get("w.mean", N), s.get("w.rstd", N), Int64(N), Int32(C))
        } else {
            let dH = wantDH ? s.zeroed("w.dH", N * C) : nil
            proj.backward(dx: dH, dout: dqk, x: H, N: N)
        }
        if wantDH, case .full(let g) = encoder, let pass { try g.backward(pass, dHidden: s.get("w.dH", N * C)) }
    }
}
