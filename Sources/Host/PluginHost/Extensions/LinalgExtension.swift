import CLAPACKE
import Engine
import Foundation
import PluginAPI
import Setting
import Support

/// The "canonedit.linalg/1" table: dense solves and eigen-decompositions through LAPACK. The
/// general solve and the eigen-decomposition work in double: the null spaces and near-singular
/// systems editing methods build from key statistics need the digits.
func linalgExtension() -> ce_linalg_ext {
    var e = ce_linalg_ext()
    e.struct_size = UInt32(MemoryLayout<ce_linalg_ext>.size)
    e.solve_spd = { ctx, A, B, n, m in
        let b = bridge(ctx)
        guard let A, let B, n > 0, m > 0 else { return b.fail(CE_ERR_INVALID_ARGUMENT, "solve_spd: missing arguments") }
        // LAPACK's products run inside OpenBLAS, so it threads them itself here.
        let info = Blas.threadedByOpenBLAS {
            LAPACKE_sposv(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "U")), Int32(n), Int32(m), A, Int32(n), B, Int32(m))
        }
        if info > 0 { return b.fail(CE_ERR_NUMERIC, "the matrix is not positive definite (leading minor \(info))") }
        if info < 0 { return b.fail(CE_ERR_INVALID_ARGUMENT, "sposv argument \(-info) is invalid") }
        return CE_OK
    }
    e.solve = { ctx, A, B, n, m in
        let b = bridge(ctx)
        guard let A, let B, n > 0, m > 0 else { return b.fail(CE_ERR_INVALID_ARGUMENT, "solve: missing arguments") }
        var a = (0..<Int(n * n)).map { Double(A[$0]) }, x = (0..<Int(n * m)).map { Double(B[$0]) }
        var pivots = [Int32](repeating: 0, count: Int(n))
        let info = Blas.threadedByOpenBLAS {
            LAPACKE_dgesv(LAPACK_ROW_MAJOR, Int32(n), Int32(m), &a, Int32(n), &pivots, &x, Int32(m))
        }
        if info > 0 { return b.fail(CE_ERR_NUMERIC, "the matrix is singular (pivot \(info) is zero)") }
        if info < 0 { return b.fail(CE_ERR_INVALID_ARGUMENT, "dgesv argument \(-info) is invalid") }
        for i in 0..<Int(n * m) { B[i] = Float(x[i]) }
        return CE_OK
    }
    e.symmetric_eigen = { ctx, A, values, n in
        let b = bridge(ctx)
        guard let A, let values, n > 0 else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "symmetric_eigen: missing arguments")
        }
        var a = (0..<Int(n * n)).map { Double(A[$0]) }, w = [Double](repeating: 0, count: Int(n))
        let info = Blas.threadedByOpenBLAS {
            LAPACKE_dsyevd(
                LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), Int32(n), &a,
                Int32(n), &w)
        }
        if info > 0 { return b.fail(CE_ERR_NUMERIC, "the eigen-decomposition did not converge (\(info))") }
        if info < 0 { return b.fail(CE_ERR_INVALID_ARGUMENT, "dsyevd argument \(-info) is invalid") }
        for i in 0..<Int(n * n) { A[i] = Float(a[i]) }
        for i in 0..<Int(n) { values[i] = Float(w[i]) }
        return CE_OK
    }
    return e
}
