import CLAPACKE
import Engine
import Foundation
import PluginAPI
import Setting
import Support

/// The "canonedit.linalg/1" table: dense solves through LAPACK.
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
    return e
}
