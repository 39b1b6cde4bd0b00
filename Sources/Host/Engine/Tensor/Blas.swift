import CBLAS
import Foundation
import Kernels
import Support

/// Matrix products on row-major fp32 data through OpenBLAS.
///
/// canonedit splits large products over its threads itself, each part one single-threaded
/// OpenBLAS call on a Dispatch worker, rather than letting OpenBLAS thread them: its workers
/// spin for a while after every product (sched_yield, about a tenth of the CPU samples of a
/// 16 × 64 forward pass), taking a core from the softmax, decoding and attention loops that run
/// between products on the same two cores (docs/performance.md). As with OpenBLAS's own
/// threads, a product's last bits may depend on the thread count (a part can fall under
/// OpenBLAS's size thresholds for its small-matrix kernels when the whole does not); for a
/// given count they never change.
public enum Blas {
    /// Products of at most this many multiply-adds run on the calling thread (OpenBLAS's own
    /// threshold: 64³).
    static let callerThreadProduct = Int(CE_CALLER_THREAD_PRODUCT)
    /// Parts are whole multiples of 16 columns (a 64-byte cache line of each output row).
    static let columnAlign = 16

    /// C (M,N) = alpha * op(A) op(B) + beta * C, row-major; split over `threads` by columns of
    /// C when it is at least as wide as tall, else by rows.
    public static func gemm(
        transA: Bool = false, transB: Bool = false, M: Int, N: Int, K: Int,
        alpha: Float = 1, A: UnsafePointer<Float>, lda: Int,
        B: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, C: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        func part(_ m: Range<Int>, _ n: Range<Int>) {
            // op(A) rows m: A's rows (or columns when transposed); op(B) columns n likewise.
            let a = A + (transA ? m.lowerBound : m.lowerBound * lda)
            let b = B + (transB ? n.lowerBound * ldb : n.lowerBound)
            cblas_sgemm(
                CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m.count), Int32(n.count), Int32(K), alpha, a, Int32(lda), b, Int32(ldb), beta,
                C + m.lowerBound * ldc + n.lowerBound, Int32(ldc))
        }
        let parts = Parallel.threads
        guard parts > 1, M * N * K > callerThreadProduct else { return part(0..<M, 0..<N) }
        // Parallel.run, not Parallel.split: the parts depend on the thread count only, never on
        // split's size threshold, so a product gives the same bits whichever loops around it are
        // split.
        if N >= M {
            Parallel.run(N, align: columnAlign, parts: parts) { _, n in part(0..<M, n) }
        } else {
            Parallel.run(M, parts: parts) { _, m in part(m, 0..<N) }
        }
    }

    /// The threads products and Parallel loops use (OpenBLAS itself runs one). Until set, the
    /// count OpenBLAS started with (OPENBLAS_NUM_THREADS, else the cores).
    public static var threads: Int {
        if let chosen { return chosen }
        let n = Int(openblas_get_num_threads())
        setThreads(n)
        return n
    }
    nonisolated(unsafe) private static var chosen: Int?

    /// More threads than any machine canonedit runs on has cores (and than Int32 holds).
    public static let maxThreads = 1024

    public static func setThreads(_ n: Int) {
        chosen = min(max(1, n), maxThreads)
        openblas_set_num_threads(1)
    }

    /// `body` with OpenBLAS threading its products over `threads` itself, for the few callers
    /// whose large products happen inside C code (long sequences' attention, LAPACK solves) and
    /// for measuring sgemm as OpenBLAS runs it. Its workers are stopped afterwards, so none
    /// keeps spinning.
    public static func threadedByOpenBLAS<T>(_ body: () throws -> T) rethrows -> T {
        guard threads > 1 else { return try body() }
        openblas_set_num_threads(Int32(threads))
        defer {
            openblas_set_num_threads(1)
            ce_blas_stop_threads()
        }
        return try body()
    }

    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// These machines set OPENBLAS_CORETYPE=Haswell for every process, so OpenBLAS (Debian 12's
    /// 0.3.21, which on its own picks Cooperlake here) runs this AVX-512 EPYC on its AVX2 kernels;
    /// some versions pick "Zen" (the same kernels) on AMD. Its AVX-512 kernels ("SkylakeX") are
    /// 1.5x faster here (bench 1x129: forward 208 -> 142 ms, forward and backward 578 -> 368 ms).
    /// So canonedit picks the kernels itself: `CANONEDIT_BLAS_CORE` names them (an
    /// OPENBLAS_CORETYPE name), `openblas` keeps OpenBLAS's own choice, and unset means SkylakeX
    /// when the processor runs AVX-512 and OpenBLAS chose AVX2 kernels. Call before any product
    /// runs (it swaps OpenBLAS's kernel table). Returns a line saying what changed, nil when
    /// nothing did.
    @discardableResult
    public static func chooseKernels(
        _ requested: String? = ProcessInfo.processInfo.environment["CANONEDIT_BLAS_CORE"]
    ) throws -> String? {
        let before = coreName
        let target: String
        switch requested?.lowercased() {
        case "openblas": return nil
        case .some: target = requested!
        case nil:
            guard ce_cpu_has_avx512() != 0, ["zen", "haswell"].contains(before.lowercased()) else { return nil }
            target = "SkylakeX"
        }
        guard target.lowercased() != before.lowercased() else { return nil }
        guard ce_blas_switch_core(target) != 0 else {
            throw CanonEditError(
                "CANONEDIT_BLAS_CORE=\(target): OpenBLAS has no such kernels (it runs \(coreName)); use a name "
                    + "OPENBLAS_CORETYPE takes, such as Haswell or SkylakeX, or openblas for OpenBLAS's own choice")
        }
        return "OpenBLAS \(coreName) kernels instead of \(before)"
            + (requested == nil ? " (AVX-512; CANONEDIT_BLAS_CORE=openblas keeps \(before))" : "")
    }

    /// What `chooseKernels` did when the program started, for the run's header.
    nonisolated(unsafe) public static var kernelChoice: String?
}
