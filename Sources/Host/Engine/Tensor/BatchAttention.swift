import Kernels

/// Causal self-attention (attention.c) split over threads. Parts whose products are at most
/// 64³ multiply-adds each run on one thread; when even one block of rows is larger (long
/// sequences), the C loop runs whole with OpenBLAS threading its products
/// (Blas.threadedByOpenBLAS). Each part computes what the serial loop would, so results do not
/// depend on the thread count.
///
/// The forward pass splits over (sequence, head, block of query rows): a block sees only the
/// keys up to its last row, so its products are small enough, and smaller with causality
/// (ce_attention_block_rows). The backward pass does the same in three steps when a sequence
/// is longer than a block (key/value gradients by blocks of key rows, since heads share them);
/// shorter sequences split over sequences while a whole sequence's products are that small.
enum BatchAttention {
    static let callerThreadProduct = Blas.callerThreadProduct

    static func splits(B: Int, T: Int, D: Int) -> Bool { B > 1 && T * T * D <= callerThreadProduct }

    /// out (N, H·D) and probs (B, H, T, T) from q (N, H·D), k and v (N, G·D); N = B·T.
    static func forward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
        k: UnsafePointer<Float>, v: UnsafePointer<Float>, B: Int, T: Int, H: Int, G: Int, D: Int, scale: Float,
        window: Int
    ) {
        let rows = Int(ce_attention_block_rows(Int32(T), Int32(D)))
        guard rows * T * D <= callerThreadProduct else {
            return Blas.threadedByOpenBLAS {
                ce_attention_forward(
                    out, probs, q, k, v, Int32(B), Int32(T), Int32(H), Int32(G), Int32(D), scale, Int32(window))
            }
        }
        let blocks = (T + rows - 1) / rows
        Parallel.split(B * H * blocks, cost: 4 * rows * T * D) { _, items in
            for item in items {
                let (sequence, block) = (item / (H * blocks), item % blocks), head = item / blocks % H
                let r0 = block * rows
                ce_attention_forward_rows(
                    out, probs, q, k, v, Int32(T), Int32(H), Int32(G), Int32(D), scale, Int32(window),
                    Int32(sequence), Int32(head), Int32(r0), Int32(min(T, r0 + rows)))
            }
        }
    }

    /// dq = d(q); dk and dv accumulate into what they hold. `scratch` holds T·T floats for each
    /// of Parallel.threads parts. A sequence longer than one block of rows leaves probs holding
    /// the scores' gradient.
    static func backward(
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, B: Int, T: Int, H: Int, G: Int,
        D: Int, scale: Float
    ) {
        let (qs, ks) = (T * H * D, T * G * D)
        func run(_ part: Int, _ b: Range<Int>) {
            let o = b.lowerBound
            ce_attention_backward(
                dq + o * qs, dk + o * ks, dv + o * ks, scratch + part * T * T, dout + o * qs, probs + o * H * T * T,
                q + o * qs, k + o * ks, v + o * ks, Int32(b.count), Int32(T), Int32(H), Int32(G), Int32(D), scale)
        }
        let rows = Int(ce_attention_block_rows(Int32(T), Int32(D)))
        if rows < T, rows * T * D <= callerThreadProduct {
            return blockedBackward(
                dq: dq, dk: dk, dv: dv, scratch: scratch, dout: dout, probs: UnsafeMutablePointer(mutating: probs),
                q: q, k: k, v: v, B: B, T: T, H: H, G: G, D: D, scale: scale, rows: rows)
        }
        guard splits(B: B, T: T, D: D) else {
            if T * T * D <= callerThreadProduct { return run(0, 0..<B) }
            return Blas.threadedByOpenBLAS { run(0, 0..<B) }
        }
        Parallel.split(B, cost: 8 * H * T * T * D) { part, b in run(part, b) }
    }

    /// The backward pass in blocks of rows (sequences longer than one block): dV by key rows,
    /// then dQ and dS by query rows (dS over probs, which the layer's backward no longer needs),
    /// then dK by key rows. Key-row blocks take every head of a group, whose gradients they share.
    static func blockedBackward(
        dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, probs: UnsafeMutablePointer<Float>,
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, B: Int, T: Int, H: Int, G: Int,
        D: Int, scale: Float, rows: Int
    ) {
        let blocks = (T + rows - 1) / rows, cost = 2 * (H / G) * rows * T * D
        func range(_ block: Int) -> (Int32, Int32) { (Int32(block * rows), Int32(min(T, block * rows + rows))) }
        Parallel.split(B * G * blocks, cost: cost) { _, items in
            for item in items {
                let (s0, s1) = range(item % blocks)
                ce_attention_backward_values(
                    dv, dout, probs, Int32(T), Int32(H), Int32(G), Int32(D), Int32(item / (G * blocks)),
                    Int32(item / blocks % G), s0, s1)
            }
        }
        Parallel.split(B * H * blocks, cost: 4 * rows * T * D) { part, items in
            for item in items {
                let (r0, r1) = range(item % blocks)
                ce_attention_backward_rows(
                    dq, probs, scratch + part * T * T, dout, k, v, Int32(T), Int32(H), Int32(G), Int32(D), scale,
                    Int32(item / (H * blocks)), Int32(item / blocks % H), r0, r1)
            }
        }
        Parallel.split(B * G * blocks, cost: cost) { _, items in
            for item in items {
                let (s0, s1) = range(item % blocks)
                ce_attention_backward_keys(
                    dk, probs, q, Int32(T), Int32(H), Int32(G), Int32(D), scale, Int32(item / (G * blocks)),
                    Int32(item / blocks % G), s0, s1)
            }
        }
    }
}
