import Foundation
import XCTest

@testable import Engine
@testable import Setting

/// Adam steps a tensor split over threads exactly as it does serially.
final class AdamSplitTests: XCTestCase {
    func steps() -> [Float] {
        let n = 10_007  // not a multiple of the split's alignment
        let p = Parameter("w", Tensor([n], values: (0..<n).map { Float($0 % 97) * 0.01 - 0.4 }))
        let adam = AdamService()
        for step in 0..<3 {
            let g = p.ensureGrad()
            for i in 0..<n { g[i] = Float((i * 31 + step * 7) % 53) * 0.02 - 0.5 }
            adam.step(p, lr: 1e-2, weightDecay: 0.01)
        }
        return p.value.array
    }

    func testSplitStepsEqualSerialSteps() {
        let (threads, minimum) = (Blas.threads, Parallel.minimumWork)
        defer { Blas.setThreads(threads); Parallel.minimumWork = minimum }
        Blas.setThreads(2)
        Parallel.minimumWork = Int.max
        let serial = steps()
        Parallel.minimumWork = 0
        let split = steps()
        XCTAssertEqual(serial, split)
        XCTAssertNotEqual(serial, Array(repeating: serial[0], count: serial.count))
    }

    /// The step reports a NaN or infinity in what it read (gradients) and what it wrote
    /// (values), in whichever thread's part it lies; the trainer's check trusts the report.
    func testTheStepFindsNonFiniteGradientsAndValues() {
        let (threads, minimum) = (Blas.threads, Parallel.minimumWork)
        defer { Blas.setThreads(threads); Parallel.minimumWork = minimum }
        Blas.setThreads(2)
        Parallel.minimumWork = 0
        let n = 10_007
        func step(badGradientAt: Int? = nil, value: Float = 0.5, lr: Double = 1e-2) -> AdamService.Finite? {
            let p = Parameter("w", Tensor([n], values: Array(repeating: value, count: n)))
            let g = p.ensureGrad()
            for i in 0..<n { g[i] = 0.1 }
            if let i = badGradientAt { g[i] = i % 2 == 0 ? .nan : -.infinity }
            let adam = AdamService()
            adam.step(p, lr: lr)
            return adam.takeChecks()["w"]
        }
        let fine = step()
        XCTAssertEqual(fine?.gradient, true)
        XCTAssertEqual(fine?.value, true)
        for i in [0, 3, n / 2 + 1, n - 1] {
            XCTAssertEqual(step(badGradientAt: i)?.gradient, false, "bad gradient at \(i)")
        }
        // A finite gradient whose step overflows the value.
        let overflow = step(value: -3e38, lr: 3e38)
        XCTAssertEqual(overflow?.gradient, true)
        XCTAssertEqual(overflow?.value, false)
    }
}
