import CLAPACKE
import LocateEdit
import XCTest

/// Worked cases of the closed forms ROME and AlphaEdit apply, written from the papers'
/// equations and checked with LAPACK in double.
final class LocateEditClosedFormTests: XCTestCase {
    var seed: UInt64 = 7
    func random() -> Float {
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Double(seed >> 11) / Double(1 << 53)) * 2 - 1
    }
    func randoms(_ n: Int) -> [Float] { (0..<n).map { _ in random() } }

    func solve(_ A: [Float], _ B: inout [Float], _ n: Int, _ m: Int) throws {
        var a = A.map(Double.init), x = B.map(Double.init), pivots = [Int32](repeating: 0, count: n)
        let info = LAPACKE_dgesv(LAPACK_ROW_MAJOR, Int32(n), Int32(m), &a, Int32(n), &pivots, &x, Int32(m))
        XCTAssertEqual(info, 0)
        B = x.map(Float.init)
    }

    func eigen(_ A: [Float], _ n: Int) -> (values: [Float], vectors: [Float]) {
        var a = A.map(Double.init), w = [Double](repeating: 0, count: n)
        XCTAssertEqual(
            LAPACKE_dsyevd(
                LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")),
                Int32(n), &a, Int32(n), &w), 0)
        return (w.map(Float.init), a.map(Float.init))
    }

    /// W (C, F) times x (F).
    func apply(_ W: [Float], _ x: [Float], outputs C: Int) -> [Float] {
        matmul(W, x, m: C, k: x.count, n: 1)
    }

    /// ROME: (W + ΔW) k = v* exactly, ΔW has rank one, and a key C-orthogonal to k̄ keeps its output.
    func testROMEInsertsTheValueAtTheKeyAndSparesCOrthogonalKeys() throws {
        let (C, F, n) = (5, 8, 40)
        let samples = randoms(n * F)
        let moment = matmul(samples, samples, m: F, k: n, n: F, transposeX: true).map { $0 / Float(n) }
        let W = randoms(C * F), averaged = randoms(F), key = averaged.enumerated().map { $1 + 0.1 * Float($0 % 3) }
        let vStar = randoms(C)
        var u = averaged
        try solve(moment, &u, F, 1)
        let current = apply(W, key, outputs: C)
        let dW = romeUpdate(direction: u, key: key, missing: (0..<C).map { vStar[$0] - current[$0] })
        let edited = zip(W, dW).map { $0 + $1 }
        let out = apply(edited, key, outputs: C)
        for c in 0..<C { XCTAssertEqual(out[c], vStar[c], accuracy: 1e-4) }
        // every row of ΔW is a multiple of u
        for c in 1..<C {
            let ratio = dW[c * F] / dW[0]
            for j in 0..<F { XCTAssertEqual(dW[c * F + j], ratio * dW[j], accuracy: 1e-5) }
        }
        // a key orthogonal to u = C⁻¹ k̄ keeps its output
        var other = randoms(F)
        let uu = u.reduce(0) { $0 + $1 * $1 }, ou = zip(other, u).reduce(0) { $0 + $1.0 * $1.1 }
        other = zip(other, u).map { $0 - ou / uu * $1 }
        let before = apply(W, other, outputs: C), after = apply(edited, other, outputs: C)
        for c in 0..<C { XCTAssertEqual(after[c], before[c], accuracy: 1e-5) }
    }

    /// AlphaEdit: keys in the span of the preserved statistics keep their outputs to 1e-5, the
    /// edited keys (in the null space) get their residuals, and without the projection the
    /// preserved outputs move (the check can fail).
    func testAlphaEditLeavesPreservedKeysUnchanged() throws {
        let (C, F, n0, E) = (4, 12, 5, 2)
        let preserved = randoms(n0 * F)  // rank 5 of 12: a 7-dimensional null space
        let moment = matmul(preserved, preserved, m: F, k: n0, n: F, transposeX: true).map { $0 / Float(n0) }
        let (values, vectors) = eigen(moment, F)
        let space = NullSpace(values: values, vectors: vectors, features: F, threshold: 1e-4)
        XCTAssertEqual(space.rank, F - n0)
        // edit keys and an earlier edit's key inside the null space
        let K = space.project(transpose(randoms(E * F), rows: E, columns: F), columns: E)
        let keys = transpose(K, rows: F, columns: E)
        let earlier = transpose(space.project(randoms(F), columns: 1), rows: F, columns: 1)
        let R = randoms(E * C)
        func assertUnmoved(_ update: [Float], line: UInt = #line) {
            for i in 0..<n0 {
                let moved = apply(update, Array(preserved[i * F..<(i + 1) * F]), outputs: C)
                for c in 0..<C { XCTAssertEqual(moved[c], 0, accuracy: 1e-5, "preserved key \(i) moved", line: line) }
            }
        }
        let dW = try alphaEditUpdate(
            keys: keys, residuals: R, earlier: earlier, nullSpace: space, l2: 1e-6, edits: E, earlierEdits: 1,
            outputs: C, solve: solve)
        assertUnmoved(dW)
        for e in 0..<E {
            let written = apply(dW, Array(keys[e * F..<(e + 1) * F]), outputs: C)
            for c in 0..<C { XCTAssertEqual(written[c], R[e * C + c], accuracy: 1e-3) }
        }
        // keys outside the null space: the preserved outputs still stay, and they move without
        // the projection (P = I), so the check can fail
        let outside = randoms(E * F)
        let projected = try alphaEditUpdate(
            keys: outside, residuals: R, earlier: earlier, nullSpace: space, l2: 1e-6, edits: E, earlierEdits: 1,
            outputs: C, solve: solve)
        assertUnmoved(projected)
        let everything = NullSpace(values: values, vectors: vectors, features: F, threshold: .infinity)
        XCTAssertEqual(everything.rank, F)
        let free = try alphaEditUpdate(
            keys: outside, residuals: R, earlier: earlier, nullSpace: everything, l2: 1e-6, edits: E,
            earlierEdits: 1, outputs: C, solve: solve)
        let moved = (0..<n0).map { apply(free, Array(preserved[$0 * F..<($0 + 1) * F]), outputs: C) }
        XCTAssertGreaterThan(moved.flatMap { $0 }.map(abs).max()!, 1e-2)
    }
}
