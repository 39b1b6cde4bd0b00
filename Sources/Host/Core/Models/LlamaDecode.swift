import Kernels

/// Keys and values of every layer for B sequences decoded together, up to maxT positions.
public final class KVCache {
    public let B: Int, maxT: Int
    public internal(set) var length = 0
    let k: [Tensor], v: [Tensor]          // per layer (B, maxT, G*D)

    init(B: Int, maxT: Int, layers: Int, width: Int) {
        self.B = B
        self.maxT = maxT
        k = (0..<layers).map { _ in Tensor([B, maxT, width]) }
        v = (0..<layers).map { _ in Tensor([B, maxT, width]) }
    }
}

extension LlamaModel {
    public func makeCache(B: Int, maxT: Int) -> KVCache {
        KVCache(B: B, maxT: min(maxT, contextLength), layers: config.L, width: config.G * config.D)
    }

    /// Appends one token per sequence (B ids) at position cache.length and returns the
    /// next-token logits (B, V). Adapters and swapped weights apply as in `run`.
    public func decode(_ tokens: [Int32], cache: KVCache) throws -> Tensor {
        let (C, H, G, D, F, L, V) = (config.C, config.H, config.G, config.D, config.F, config.L, config.vocab_size)
        let B = cache.B, t = cache.length
        guard tokens.count == B else { throw CanonEditError("decode needs \(B) tokens, got \(tokens.count)") }
        guard t < cache.maxT else { throw CanonEditError("decode past the cache length \(cache.maxT)") }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= V }) { throw CanonEditError("token id \(bad) is outside the vocabulary of \(V)") }
        rope.ensure(t + 1)
        let s = scratch
        let x = s.get("dec.x", B * C), xn = s.get("dec.xn", B * C), rstd = s.get("dec.rstd", B)
        let q = s.get("dec.q", B * H * D), kn = s.get("dec.k", B * G * D), vn = s.get("dec.v", B * G * D)
        let att = s.get("dec.att", B * H * D), gate = s.get("dec.gate", B * F), up = s.get("dec.up", B * F), h = s.get("dec.h", B * F)
        let sc = s.get("dec.scores", t + 1)
        let pos = [Int32](repeating: Int32(t), count: B)
        for b in 0..<B { (x + b * C).update(from: embed.value.data + Int(tokens[b]) * C, count: C) }
        let eps = Float(config.rms_norm_eps)
        for l in 0..<L {
            let blk = blocks[l]
            ce_rmsnorm_forward(xn, rstd, x, blk.attnNorm.value.data, Int64(B), Int32(C), eps)
            blk.q.forward(q, xn, N: B); blk.k.forward(kn, xn, N: B); blk.v.forward(vn, xn, N: B)
            ropeRows(q, N: B, heads: H, pos: pos)
            ropeRows(kn, N: B, heads: G, pos: pos)
            let w = G * D
            for b in 0..<B {
                (cache.k[l].data + (b * cache.maxT + t) * w).update(from: kn + b * w, count: w)
                (cache.v[l].data + (b * cache.maxT + t) * w).update(from: vn + b * w, count: w)
            }
            ce_attention_decode(att, q, cache.k[l].data, cache.v[l].data, Int32(B), Int32(t + 1), Int32(cache.maxT),
                                Int32(H), Int32(G), Int32(D), 1 / Float(D).squareRoot(), sc)
            blk.o.forward(x, att, N: B, accumulate: true)
            ce_rmsnorm_forward(xn, rstd, x, blk.mlpNorm.value.data, Int64(B), Int32(C), eps)
            blk.gate.forward(gate, xn, N: B); blk.up.forward(up, xn, N: B)
            ce_swiglu_forward(h, gate, up, Int64(B * F))
            blk.down.forward(x, h, N: B, accumulate: true)
        }
        ce_rmsnorm_forward(xn, rstd, x, norm.value.data, Int64(B), Int32(C), eps)
        let logits = Tensor([B, V])
        Blas.gemm(transB: true, M: B, N: V, K: C, A: xn, lda: C, B: lmHead.value.data, ldb: C, C: logits.data, ldc: V)
        cache.length += 1
        return logits
    }
}
