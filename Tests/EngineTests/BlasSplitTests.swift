import CBLAS
import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// Products large enough to be split over threads (by columns when C is at least as wide as
/// tall, else by rows) give the sums written out, for every transposition, with strides wider
/// than the matrices and with beta accumulating; OpenBLAS itself stays on one thread.
final class BlasSplitTests: XCTestCase {
    func testSplitProductsMatchTheSumsWrittenOut() {
        let threads = Blas.threads
        defer { Blas.setThreads(threads) }
        var rng = SeededRandom(seed: 5)
        // (M, N, K): wide (split by columns, N not a multiple of 16), tall (split by rows, M odd).
        for (M, N, K) in [(37, 1000, 70), (1001, 45, 64)] {
            XCTAssertGreaterThan(M * N * K, Blas.callerThreadProduct, "large enough to split")
            for transA in [false, true] {
                for transB in [false, true] {
                    for beta: Float in [0, 1] {
                        // op(A) (M, K), op(B) (K, N), each stored with 3 spare columns.
                        let (ra, ca) = transA ? (K, M) : (M, K)
                        let (rb, cb) = transB ? (N, K) : (K, N)
                        let (lda, ldb, ldc) = (ca + 3, cb + 3, N + 3)
                        let a = randomArray(ra * lda, &rng), b = randomArray(rb * ldb, &rng)
                        let c0 = randomArray(M * ldc, &rng)
                        func opA(_ i: Int, _ k: Int) -> Double { Double(transA ? a[k * lda + i] : a[i * lda + k]) }
                        func opB(_ k: Int, _ j: Int) -> Double { Double(transB ? b[j * ldb + k] : b[k * ldb + j]) }
                        for t in [1, 2] {
                            Blas.setThreads(t)
                            var c = c0
                            Blas.gemm(
                                transA: transA, transB: transB, M: M, N: N, K: K, alpha: 0.5, A: a, lda: lda, B: b,
                                ldb: ldb, beta: beta, C: &c, ldc: ldc)
                            var worst: Double = 0
                            for i in 0..<M {
                                for j in 0..<ldc {
                                    var want = Double(c0[i * ldc + j])
                                    if j < N {
                                        var s = 0.0
                                        for k in 0..<K { s += opA(i, k) * opB(k, j) }
                                        want = 0.5 * s + Double(beta) * want
                                    }
                                    worst = max(worst, abs(want - Double(c[i * ldc + j])))
                                }
                            }
                            XCTAssertLessThan(
                                worst, 1e-4,
                                "\(M)×\(N)×\(K) transA \(transA) transB \(transB) beta \(beta), \(t) threads")
                        }
                    }
                }
            }
        }
    }

    /// Blas owns the threads: OpenBLAS runs one after setThreads, after a kernel restart and
    /// after a stretch threaded by OpenBLAS itself.
    func testOpenBLASStaysOnOneThread() throws {
        let (threads, core) = (Blas.threads, Blas.coreName)
        defer {
            Blas.setThreads(threads)
            _ = try? Blas.chooseKernels(core)
        }
        Blas.setThreads(2)
        XCTAssertEqual(openblas_get_num_threads(), 1)
        XCTAssertEqual(Blas.threadedByOpenBLAS { openblas_get_num_threads() }, 2)
        XCTAssertEqual(openblas_get_num_threads(), 1)
        _ = try Blas.chooseKernels(core.lowercased() == "haswell" ? "Sandybridge" : "Haswell")
        XCTAssertEqual(openblas_get_num_threads(), 1)
        XCTAssertEqual(Blas.threads, 2)
    }
}
