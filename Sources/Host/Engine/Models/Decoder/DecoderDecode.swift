import Foundation
import Kernels
import Support

/// Keys and values of every layer for B sequences decoded together, up to maxT positions.
public final class KVCache {
    public let B: Int, maxT: Int
    public internal(set) var length = 0
    /// Each sequence's query position (its prompt's last token) for block-output hooks; -1: none.
    public var queries: [Int]
    let k: [Tensor], v: [Tensor]  // per layer (B, maxT, G·D)

    init(B: Int, maxT: Int, layers: Int, width: Int) {
        self.B = B
        self.maxT = maxT
        queries = [Int](repeating: -1, count: B)
        k = (0..<layers).map { _ in Tensor([B, maxT, width]) }
        v = (0..<layers).map { _ in Tensor([B, maxT, width]) }
    }
}

extension DecoderLM {
    public func makeCache(B: Int, maxT: Int) -> KVCache {
        KVCache(B: B, maxT: min(maxT, contextLength), layers: spec.L, width: spec.G * spec.D)
    }

    /// Appends one token per sequence (B ids) at position cache.length and returns the
    /// next-token logits (B, V). Adapters and swapped weights apply as in `run`.
    public func decode(_ tokens: [Int32], cache: KVCache) throws -> Tensor {
        let (C, H, G, D, F, L, V) = (spec.C, spec.H, spec.G, spec.D, spec.F, spec.L, spec.V)
        let B = cache.B, t = cache.length
        guard tokens.count == B else { throw CanonEditError("decode needs \(B) tokens, got \(tokens.count)") }
        guard t < cache.maxT else { throw CanonEditError("decode past the cache length \(cache.maxT)") }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= V }) {
            throw CanonEditError("token id \(bad) is outside the vocabulary of \(V)")
        }
        let s = scratch
        let x = s.get("dec.x", B * C), xIn = s.get("dec.xin", B * C), xn = s.get("dec.xn", B * C)
        let mean = s.get("dec.mean", B), rstd = s.get("dec.rstd", B)
        let q = s.get("dec.q", B * H * D), kn = s.get("dec.k", B * G * D), vn = s.get("dec.v", B * G * D)
        let att = s.get("dec.att", B * H * D), gate = s.get("dec.gate", B * F), up = s.get("dec.up", B * F),
            h = s.get("dec.h", B * F)
        let scores = s.get("dec.scores", t + 1)
        let pos = [Int32](repeating: Int32(t), count: B)
        embedTokens(x, tokens: tokens, pos: pos)
        let w = G * D
        for l in 0..<L {
            let b = blocks[l]
            xIn.update(from: x, count: B * C)
            normForward(b.norm1, out: xn, mean: mean, rstd: rstd, x: x, N: B)
            projectQKV(b, xn: xn, q: q, k: kn, v: vn, N: B)
            if let qNorm = b.qNorm, let kNorm = b.kNorm {
                let raw = s.get("dec.headRaw", B * H * D), r = s.get("dec.headRstd", B * H)
                raw.update(from: q, count: B * H * D)
                normForward(qNorm, out: q, mean: r, rstd: r, x: raw, N: B * H)
                raw.update(from: kn, count: B * G * D)
                normForward(kNorm, out: kn, mean: r, rstd: r, x: raw, N: B * G)
            }
            applyRope(q, N: B, heads: H, pos: pos, sign: 1, layer: l)
            applyRope(kn, N: B, heads: G, pos: pos, sign: 1, layer: l)
            for i in 0..<B {
                (cache.k[l].data + (i * cache.maxT + t) * w).update(from: kn + i * w, count: w)
                (cache.v[l].data + (i * cache.maxT + t) * w).update(from: vn + i * w, count: w)
            }
            ce_attention_decode(
                att, q, cache.k[l].data, cache.v[l].data, Int32(B), Int32(t + 1), Int32(cache.maxT),
                Int32(H), Int32(G), Int32(D), spec.attentionScale(layer: l), Int32(spec.window(layer: l)), scores)
            let out = s.get("dec.out", B * C)  // a sublayer's output before its post-norm (Gemma 3)
            if b.postAttnNorm != nil {
                b.o.forward(out, att, N: B)
                addToResidual(x, out: out, postNorm: b.postAttnNorm, rstd: rstd, N: B)
            } else {
                b.o.forward(x, att, N: B, accumulate: true)
            }
            switch spec.residual {
            case .sequential: normForward(b.norm2!, out: xn, mean: mean, rstd: rstd, x: x, N: B)
            case .parallelTwoNorms: normForward(b.norm2!, out: xn, mean: mean, rstd: rstd, x: xIn, N: B)
            case .parallelOneNorm: break
            }
            b.gate?.forward(gate, xn, N: B)
            b.up.forward(up, xn, N: B)
            mlpActivate(h, gate: gate, up: up, n: B * F)
            if b.postMLPNorm != nil {
                b.down.forward(out, h, N: B)
                addToResidual(x, out: out, postNorm: b.postMLPNorm, rstd: rstd, N: B)
            } else {
                b.down.forward(x, h, N: B, accumulate: true)
            }
            for hook in outputHooks(at: l) {
                let layout = RowLayout(lengths: [Int](repeating: t + 1, count: B), queries: cache.queries)
                try hook.forward(
                    x, rows: HookRows(layer: l, B: B, T: 1, C: C, start: t, layout: layout, training: false))
            }
        }
        normForward(finalNorm, out: xn, mean: mean, rstd: rstd, x: x, N: B)
        let logits = Tensor([B, V])
        Blas.gemm(transB: true, M: B, N: V, K: C, A: xn, lda: C, B: head.value.data, ldb: C, C: logits.data, ldc: V)
        if let hb = headBias?.value.data { for i in 0..<B { ce_add(logits.data + i * V, hb, Int64(V)) } }
        cache.length += 1
        return logits
    }
}
