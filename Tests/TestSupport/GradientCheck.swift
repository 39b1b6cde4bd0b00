import Engine
import Experiments
import PluginHost
import Setting
import Support
import XCTest

/// Central finite differences against an analytic gradient. `loss` reads the current values of
/// `inputs`; entries are perturbed in place one at a time (a sample when the tensor is large).
public func checkGradient(
    _ label: String, inputs: [UnsafeMutablePointer<Float>], counts: [Int], analytic: [[Float]],
    eps: Float = 1e-2, atol: Double = 2e-3, rtol: Double = 2e-2, samples: Int = 40,
    file: StaticString = #filePath, line: UInt = #line, loss: () throws -> Double
) rethrows {
    var rng = SeededRandom(seed: 99)
    for (which, (p, n)) in zip(inputs, counts).enumerated() {
        let picks = n <= samples ? Array(0..<n) : (0..<samples).map { _ in Int(rng.next() % UInt64(n)) }
        for i in picks {
            let keep = p[i]
            p[i] = keep + eps
            let up = try loss()
            p[i] = keep - eps
            let down = try loss()
            p[i] = keep
            let fd = (up - down) / (2 * Double(eps))
            let an = Double(analytic[which][i])
            XCTAssertLessThanOrEqual(
                abs(fd - an), atol + rtol * abs(an),
                "\(label): input \(which)[\(i)] finite difference \(fd) vs analytic \(an)",
                file: file, line: line)
        }
    }
}

/// Σ out·R in double: a scalar loss whose d/d(out) is R.
public func dot(_ out: UnsafePointer<Float>, _ r: [Float]) -> Double {
    var s = 0.0
    for i in 0..<r.count { s += Double(out[i]) * Double(r[i]) }
    return s
}
