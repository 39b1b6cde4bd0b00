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
}
