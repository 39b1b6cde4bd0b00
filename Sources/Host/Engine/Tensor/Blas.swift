import CBLAS
import Foundation
import Kernels
import Support

/// Matrix products on row-major fp32 data through OpenBLAS.
public enum Blas {
    /// C (M,N) = alpha * op(A) op(B) + beta * C, row-major.
    @inline(__always)
    public static func gemm(
        transA: Bool = false, transB: Bool = false, M: Int, N: Int, K: Int,
        alpha: Float = 1, A: UnsafePointer<Float>, lda: Int,
        B: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, C: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(M), Int32(N), Int32(K), alpha, A, Int32(lda), B, Int32(ldb), beta, C, Int32(ldc))
    }

    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var threads: Int { Int(openblas_get_num_threads()) }
    public static var coreName: String { String(cString: openblas_get_corename()) }

    /// These machines set OPENBLAS_CORETYPE=Haswell for every process, so OpenBLAS (Debian 12's
    /// 0.3.21, which on its own picks Cooperlake here) runs this AVX-512 EPYC on its AVX2 kernels;
    /// some versions pick "Zen" (the same kernels) on AMD. Its AVX-512 kernels ("SkylakeX") are
    /// 1.5x faster here (bench 1x129: forward 208 -> 142 ms, forward and backward 578 -> 368 ms).
    /// So canonedit picks the kernels itself: `CANONEDIT_BLAS_CORE` names them (an
    /// OPENBLAS_CORETYPE name), `openblas` keeps OpenBLAS's own choice, and unset means SkylakeX
    /// when the processor runs AVX-512 and OpenBLAS chose AVX2 kernels. Call before any product
    /// runs (it restarts OpenBLAS). Returns a line saying what changed, nil when nothing did.
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
