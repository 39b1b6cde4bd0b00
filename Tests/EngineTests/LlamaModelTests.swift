import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// A tiny random Llama checked end to end: whole-model gradients against finite differences,
/// for both rotary layouts, and the backward pass's early stop below the lowest trained layer.
final class LlamaModelTests: XCTestCase {
    static func tiny(interleaved: Bool, tied: Bool = true, seed: UInt64 = 3) throws -> LlamaModel {
        try TinyModels.llama(seed: seed, vocab: 40, interleaved: interleaved, tied: tied)
    }

    /// Two right-padded rows; loss = weighted next-token NLL at real positions.
    func batch() -> (tokens: [Int32], head: () -> TokenNLL) {
        let T = 6
        let a: [Int32] = [3, 17, 5, 29, 8, 11], b: [Int32] = [21, 2, 39, 0, 0, 0]
        var rows: [Int] = [], targets: [Int32] = [], weights: [Float] = []
        for t in 0..<5 { rows.append(t); targets.append(a[t + 1]); weights.append(0.2) }
        for t in 0..<2 { rows.append(T + t); targets.append(b[t + 1]); weights.append(0.5) }
        return (a + b, { TokenNLL(rows: rows, targets: targets, weights: weights) })
    }

    func testWholeModelGradients() throws {
        for (interleaved, tied) in [(true, true), (false, false)] {
            let m = try Self.tiny(interleaved: interleaved, tied: tied)
            let (tokens, head) = batch()
            m.setTrainable(true)
            m.zeroGrads()
            try m.run(tokens: tokens, B: 2, T: 6, head: head(), train: true)
            let analytic = m.parameters.map { $0.grad!.array }
            m.setTrainable(false)
            func loss() throws -> Double {
                let h = head()
                try m.run(tokens: tokens, B: 2, T: 6, head: h, train: false)
                return h.loss
            }
            try checkGradient(
                "tiny llama interleaved=\(interleaved) tied=\(tied)", inputs: m.parameters.map { $0.value.data },
                counts: m.parameters.map { $0.value.count }, analytic: analytic, eps: 5e-3,
                atol: 1e-3, rtol: 3e-2, samples: 12, loss: loss)
        }
    }

    func testTrainingOnlyUpperLayerGivesSameGradients() throws {
        let m = try Self.tiny(interleaved: true)
        let (tokens, head) = batch()
        m.setTrainable(true)
        m.zeroGrads()
        try m.run(tokens: tokens, B: 2, T: 6, head: head(), train: true)
        let full = m.parameter("model.layers.1.mlp.down_proj.weight")!.grad!.array
        m.setTrainable(false)
        for p in m.parameters { p.dropGrad() }
        let p = m.parameter("model.layers.1.mlp.down_proj.weight")!
        p.requiresGrad = true
        XCTAssertEqual(m.lowestTrainedBlock, 1)
        try m.run(tokens: tokens, B: 2, T: 6, head: head(), train: true)
        XCTAssertLessThan(maxAbsDiff(p.grad!.array, full), 1e-6)
        XCTAssertNil(m.parameter("model.layers.0.mlp.down_proj.weight")!.grad, "frozen layers get no gradient buffer")
    }

    func testRejectsBadBatches() throws {
        let m = try Self.tiny(interleaved: true)
        XCTAssertThrowsError(try m.run(tokens: [1, 2, 40], B: 1, T: 3, head: LogitRows(rows: [0]), train: false)) {
            XCTAssertTrue("\($0)".contains("outside the vocabulary"))
        }
        XCTAssertThrowsError(
            try m.run(tokens: [Int32](repeating: 1, count: 65), B: 1, T: 65, head: LogitRows(rows: [0]), train: false)
        ) {
            XCTAssertTrue("\($0)".contains("context"))
        }
    }
}
