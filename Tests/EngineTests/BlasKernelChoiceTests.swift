import Foundation
import Kernels
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// On a processor with AVX-512 whose OpenBLAS picked its AVX2 kernels, the switch lands on the
/// AVX-512 ones, and products stay right afterwards.
final class BlasKernelChoiceTests: XCTestCase {
    func testTheKernelsAreChosenAndProductsStayRight() throws {
        let before = Blas.coreName
        defer { _ = try? Blas.chooseKernels(before) }
        // Named kernels, whatever the processor (Haswell's run everywhere these tests run).
        _ = try Blas.chooseKernels("Haswell")
        XCTAssertEqual(Blas.coreName.lowercased(), "haswell")
        XCTAssertNil(try Blas.chooseKernels("openblas"), "openblas keeps what runs")
        XCTAssertThrowsError(try Blas.chooseKernels("NoSuchCore")) {
            XCTAssertTrue("\($0)".contains("CANONEDIT_BLAS_CORE=NoSuchCore"), "\($0)")
        }
        _ = try Blas.chooseKernels("Haswell")
        // Unset: AVX-512 kernels exactly when the processor runs AVX-512.
        let auto = try Blas.chooseKernels(nil)
        if ce_cpu_has_avx512() != 0 {
            XCTAssertEqual(Blas.coreName.lowercased(), "skylakex")
            XCTAssertTrue(auto?.contains("instead of Haswell") ?? false, auto ?? "nil")
        } else {
            XCTAssertNil(auto)
        }
        // A product after the restart, on both threads, against the sums written out.
        let threads = Blas.threads
        defer { Blas.setThreads(threads) }
        Blas.setThreads(2)
        let (M, N, K) = (67, 129, 300)
        var rng = SeededRandom(seed: 2)
        let a = randomArray(M * K, &rng), b = randomArray(K * N, &rng)
        var c = [Float](repeating: 0, count: M * N)
        Blas.gemm(M: M, N: N, K: K, A: a, lda: K, B: b, ldb: N, C: &c, ldc: N)
        var worst: Double = 0
        for i in 0..<M {
            for j in 0..<N {
                var s = 0.0
                for k in 0..<K { s += Double(a[i * K + k]) * Double(b[k * N + j]) }
                worst = max(worst, abs(s - Double(c[i * N + j])))
            }
        }
        XCTAssertLessThan(worst, 1e-4)
    }
}
