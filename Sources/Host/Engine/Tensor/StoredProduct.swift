import Foundation
import Kernels

/// Matrix products with a frozen weight W (M, K) kept in its stored format (StoredBlocks). Few
/// input rows (a training step, decoding): a fused kernel decodes one row of W at a time and
/// uses it for every input row. Many rows: panels of W are decoded into a small buffer and
/// handed to sgemm. Either way the fp32 matrix never exists. Decoding is split over as many
/// threads as OpenBLAS uses (rows of W forward, block-aligned columns backward).
public enum StoredProduct {
    /// Below this many input rows the fused kernel is used.
    static let fusedRows = 4
    /// A decoded panel holds about this many floats (8 MB): every matrix of a SmolLM2 block is
    /// decoded whole and handed to sgemm in one call. (1 MB panels split the MLP matrices into
    /// four sgemm calls: the forward at 16 × 64 ran at 74–76% of sgemm's rate, 86–90% now.)
    public static let panelFloats = 1 << 21

    /// Scratch per thread (one model runs at a time; each call hands out disjoint parts).
    nonisolated(unsafe) private static var scratch = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    nonisolated(unsafe) private static var scratchCount = 1

    static func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
        if n > scratchCount {
            scratch.deallocate()
            scratch = .allocate(capacity: n)
            scratchCount = n
        }
        return scratch
    }

    /// Rows `rows` of W decoded into dst (rows.count, K), split over threads.
    static func decode(_ w: StoredBlocks, rows: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let (first, K) = (rows.lowerBound, w.cols)
        Parallel.split(rows.count, cost: K) { _, r in
            w.decode(rows: (first + r.lowerBound)..<(first + r.upperBound), into: dst + r.lowerBound * K)
        }
    }

    /// out (N, M) = x (N, K) Wᵀ, or += with `accumulate`.
    static func forward(
        _ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, N: Int, w: StoredBlocks, accumulate: Bool
    ) {
        let (M, K) = (w.rows, w.cols)
        if N < fusedRows {
            let rows = buffer(Parallel.threads * K), kernel = w.type.kernel
            Parallel.split(M, cost: N * K) { t, r in
                ce_qmatmul_forward(
                    out, x, Int64(N), Int64(K), Int64(M), w.base, Int64(w.rowBytes), kernel, rows + t * K,
                    accumulate ? 1 : 0, Int64(r.lowerBound), Int64(r.upperBound))
            }
            return
        }
        let rows = max(1, min(M, panelFloats / K))
        let panel = buffer(rows * K)  // (rows, K)
        for r0 in stride(from: 0, to: M, by: rows) {
            let n = min(rows, M - r0)
            decode(w, rows: r0..<(r0 + n), into: panel)
            Blas.gemm(
                transB: true, M: N, N: n, K: K, A: x, lda: K, B: panel, ldb: K, beta: accumulate ? 1 : 0,
                C: out + r0, ldc: M)
        }
    }

    /// dx (N, K) += dout (N, M) W.
    static func backwardInput(
        _ dx: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, N: Int, w: StoredBlocks
    ) {
        let (M, K) = (w.rows, w.cols)
        if N < fusedRows {
            let rows = buffer(Parallel.threads * K), kernel = w.type.kernel
            Parallel.split(K, align: w.type.blockValues, cost: N * M) { t, k in
                ce_qmatmul_backward_input(
                    dx, dout, Int64(N), Int64(K), Int64(M), w.base, Int64(w.rowBytes), kernel, rows + t * K,
                    Int64(k.lowerBound), Int64(k.upperBound), Int64(w.type.blockValues), Int64(w.type.blockBytes))
            }
            return
        }
        let rows = max(1, min(M, panelFloats / K))
        let panel = buffer(rows * K)
        for r0 in stride(from: 0, to: M, by: rows) {
            let n = min(rows, M - r0)
            decode(w, rows: r0..<(r0 + n), into: panel)
            Blas.gemm(M: N, N: K, K: n, A: dout + r0, lda: M, B: panel, ldb: K, beta: 1, C: dx, ldc: K)
        }
    }
}
