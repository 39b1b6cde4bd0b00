import Kernels

/// Causal self-attention (attention.c) with the batch's sequences split over threads: a
/// sequence's heads read and write only its own rows, so each part computes what the serial
/// loop would. Only when every per-head product is at most 64³: OpenBLAS runs those on the
/// calling thread (its multithreading threshold), so two parts never share its thread pool;
/// larger products stay one call at a time and OpenBLAS threads them itself. (Setting OpenBLAS
/// to one thread around each split instead cost 15% of the forward pass at 16 × 64.)
enum BatchAttention {
    static let callerThreadProduct = 1 << 18

    static func splits(B: Int, T: Int, D: Int) -> Bool { B > 1 && T * T * D <= callerThreadProduct }

    /// out (N, H·D) and probs (B, H, T, T) from q (N, H·D), k and v (N, G·D); N = B·T.
    static func forward(
        out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
        k: UnsafePointer<Float>, v: UnsafePointer<Float>, B: Int, T: Int, H: Int, G: Int, D: Int, scale: Float,
        window: Int
    ) {
        let (qs, ks) = (T * H * D, T * G * D)  // floats per sequence
        func run(_ b: Range<Int>) {
            let o = b.lowerBound
            ce_attention_forward(
                out + o * qs, probs + o * H * T * T, q + o * qs, k + o * ks, v + o * ks, Int32(b.count), Int32(T),
                Int32(H), Int32(G), Int32(D), scale, Int32(window))
        }
        guard splits(B: B, T: T, D: D) else { return run(0..<B) }
        Parallel.split(B, cost: 4 * H * T * T * D) { _, b in run(b) }
    }

    /// dq = d(q); dk and dv accumulate into what they hold. `scratch` holds T·T floats for each
    /// of Parallel.threads parts.
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
        guard splits(B: B, T: T, D: D) else { return run(0, 0..<B) }
        Parallel.split(B, cost: 8 * H * T * T * D) { part, b in run(part, b) }
    }
}
