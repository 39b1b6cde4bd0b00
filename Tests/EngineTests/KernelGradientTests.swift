import Kernels
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// Every kernel's backward pass against finite differences of its forward pass.
final class KernelGradientTests: XCTestCase {
    var rng = SeededRandom(seed: 7)

    func testRMSNorm() {
        let (N, C) = (3, 8)
        let x = Tensor([N, C], values: randomArray(N * C, &rng)), w = Tensor([C], values: randomArray(C, &rng))
        let R = randomArray(N * C, &rng)
        let out = Tensor([N, C]), rstd = Tensor([N])
        func loss() -> Double {
            ce_rmsnorm_forward(out.data, rstd.data, x.data, w.data, Int64(N), Int32(C), 1e-5); return dot(out.data, R)
        }
        _ = loss()
        let dx = Tensor([N, C]), dw = Tensor([C])
        ce_rmsnorm_backward(dx.data, dw.data, R, x.data, w.data, rstd.data, Int64(N), Int32(C))
        checkGradient(
            "rmsnorm", inputs: [x.data, w.data], counts: [N * C, C], analytic: [dx.array, dw.array], loss: loss)
    }

    func testLayerNorm() {
        let (N, C) = (3, 8)
        let x = Tensor([N, C], values: randomArray(N * C, &rng)), w = Tensor([C], values: randomArray(C, &rng))
        let b = Tensor([C], values: randomArray(C, &rng))
        let R = randomArray(N * C, &rng)
        let out = Tensor([N, C]), mean = Tensor([N]), rstd = Tensor([N])
        func loss() -> Double {
            ce_layernorm_forward(out.data, mean.data, rstd.data, x.data, w.data, b.data, Int64(N), Int32(C), 1e-5);
            return dot(out.data, R)
        }
        _ = loss()
        let dx = Tensor([N, C]), dw = Tensor([C]), db = Tensor([C])
        ce_layernorm_backward(dx.data, dw.data, db.data, R, x.data, w.data, mean.data, rstd.data, Int64(N), Int32(C))
        checkGradient(
            "layernorm", inputs: [x.data, w.data, b.data], counts: [N * C, C, C],
            analytic: [dx.array, dw.array, db.array], loss: loss)
    }

    func testRopeBothLayoutsAndPartialRotary() {
        let (N, H, D) = (4, 2, 8)
        for (interleaved, R) in [(Int32(1), 8), (0, 8), (0, 4), (1, 4)] {
            var table = RopeTable(rotaryDim: R, base: 10000)
            table.ensure(N)
            let pos = (0..<N).map { Int32($0) }
            let x = Tensor([N, H * D], values: randomArray(N * H * D, &rng))
            let Rw = randomArray(N * H * D, &rng)
            let out = Tensor([N, H * D])
            func loss() -> Double {
                out.copy(from: x)
                ce_rope(out.data, Int64(N), Int32(H), Int32(D), Int32(R), pos, table.cos, table.sin, interleaved, 1)
                return dot(out.data, Rw)
            }
            _ = loss()
            let dx = Tensor([N, H * D], values: Rw)
            ce_rope(dx.data, Int64(N), Int32(H), Int32(D), Int32(R), pos, table.cos, table.sin, interleaved, -1)
            checkGradient(
                "rope interleaved=\(interleaved) R=\(R)", inputs: [x.data], counts: [x.count], analytic: [dx.array],
                loss: loss)
            // position 0 is the identity; norms are preserved
            XCTAssertEqual(out[0], x[0], accuracy: 1e-6)
        }
    }

    func testSwiGLU() {
        let n = 20
        let g = Tensor([n], values: randomArray(n, &rng, scale: 2)), u = Tensor([n], values: randomArray(n, &rng))
        let R = randomArray(n, &rng)
        let out = Tensor([n])
        func loss() -> Double { ce_swiglu_forward(out.data, g.data, u.data, Int64(n)); return dot(out.data, R) }
        _ = loss()
        let dg = Tensor([n]), du = Tensor([n])
        ce_swiglu_backward(dg.data, du.data, R, g.data, u.data, Int64(n))
        checkGradient(
            "swiglu", inputs: [g.data, u.data], counts: [n, n], analytic: [dg.array, du.array], eps: 1e-3, loss: loss)
        // silu(1) = 1 * sigmoid(1)
        let one: [Float] = [1], two: [Float] = [2]
        var o: [Float] = [0]
        ce_swiglu_forward(&o, one, two, 1)
        XCTAssertEqual(o[0], 2 * (1 / (1 + Float(M_E).reciprocal)), accuracy: 1e-6)
    }

    func testGeGLU() {
        let n = 20
        let g = Tensor([n], values: randomArray(n, &rng, scale: 2)), u = Tensor([n], values: randomArray(n, &rng))
        let R = randomArray(n, &rng)
        let out = Tensor([n]), gelu = Tensor([n])
        func loss() -> Double { ce_geglu_forward(out.data, g.data, u.data, Int64(n)); return dot(out.data, R) }
        _ = loss()
        ce_gelu_forward(gelu.data, g.data, Int64(n), 1)
        for i in 0..<n { XCTAssertEqual(out[i], gelu[i] * u[i], accuracy: 1e-6, "gelu_tanh(gate) · up") }
        let dg = Tensor([n]), du = Tensor([n])
        ce_geglu_backward(dg.data, du.data, R, g.data, u.data, Int64(n))
        checkGradient(
            "geglu", inputs: [g.data, u.data], counts: [n, n], analytic: [dg.array, du.array], eps: 1e-3, loss: loss)
    }

    func testGELUBothForms() {
        let n = 20
        for approx in [Int32(1), 0] {
            let x = Tensor([n], values: randomArray(n, &rng, scale: 2))
            let R = randomArray(n, &rng)
            let out = Tensor([n])
            func loss() -> Double { ce_gelu_forward(out.data, x.data, Int64(n), approx); return dot(out.data, R) }
            _ = loss()
            let dx = Tensor([n])
            ce_gelu_backward(dx.data, R, x.data, Int64(n), approx)
            checkGradient(
                "gelu tanh=\(approx)", inputs: [x.data], counts: [n], analytic: [dx.array], eps: 1e-3, loss: loss)
            var o: [Float] = [0]
            ce_gelu_forward(&o, [1.5], 1, approx)
            XCTAssertEqual(o[0], 1.5 * 0.5 * (1 + Float(erf(1.5 / 2.0.squareRoot()))), accuracy: 2e-3)
        }
    }

    func testGroupedCausalAttention() {
        for window in [0, 2] { checkAttention(window: window) }
    }

    func checkAttention(window: Int) {
        let (B, T, H, G, D) = (2, 5, 4, 2, 3)
        let scale = 1 / Float(D).squareRoot()
        let q = Tensor([B * T, H * D], values: randomArray(B * T * H * D, &rng))
        let k = Tensor([B * T, G * D], values: randomArray(B * T * G * D, &rng))
        let v = Tensor([B * T, G * D], values: randomArray(B * T * G * D, &rng))
        let R = randomArray(B * T * H * D, &rng)
        let out = Tensor([B * T, H * D]), probs = Tensor([B, H, T, T])
        func loss() -> Double {
            ce_attention_forward(
                out.data, probs.data, q.data, k.data, v.data, Int32(B), Int32(T), Int32(H), Int32(G), Int32(D), scale,
                Int32(window))
            return dot(out.data, R)
        }
        _ = loss()
        // causal: a query never looks ahead; in a window of w, never further back than w - 1
        for t in 0..<T {
            for s in 0..<T {
                let seen = s <= t && (window == 0 || s > t - window)
                XCTAssertEqual(probs[t * T + s] > 0, seen, "window \(window): \(t) sees \(s)")
            }
        }
        let dq = Tensor(q.shape), dk = Tensor(k.shape), dv = Tensor(v.shape), scratch = Tensor([T * T])
        ce_attention_backward(
            dq.data, dk.data, dv.data, scratch.data, R, probs.data, q.data, k.data, v.data,
            Int32(B), Int32(T), Int32(H), Int32(G), Int32(D), scale)
        checkGradient(
            "attention window \(window)", inputs: [q.data, k.data, v.data], counts: [q.count, k.count, v.count],
            analytic: [dq.array, dk.array, dv.array], samples: 60, loss: loss)
    }

    func testSoftmaxCrossEntropy() {
        let (Rr, V) = (3, 11)
        let x = Tensor([Rr, V], values: randomArray(Rr * V, &rng, scale: 3))
        let target: [Int32] = [4, -1, 10]
        let w: [Float] = [0.5, 1, 2]
        let work = Tensor([Rr, V]), nll = Tensor([Rr])
        func loss() -> Double {
            work.copy(from: x)
            ce_softmax_xent(work.data, nll.data, target, nil, Int64(Rr), Int32(V))
            return (0..<Rr).reduce(0.0) { $0 + Double(nll[$1] * w[$1]) }
        }
        _ = loss()
        XCTAssertEqual(nll[1], 0, "a row with target -1 is not scored")
        // nll = logsumexp - x[target], checked in double
        let row = (0..<V).map { Double(x[$0]) }
        let lse = log(row.map { exp($0) }.reduce(0, +))
        XCTAssertEqual(Double(nll[0]), lse - row[4], accuracy: 1e-5)
        work.copy(from: x)
        ce_softmax_xent(work.data, nll.data, target, w, Int64(Rr), Int32(V))
        checkGradient(
            "softmax xent", inputs: [x.data], counts: [x.count], analytic: [work.array], eps: 1e-3, loss: loss)
        var ls = x.array
        ce_logsoftmax(&ls, Int64(Rr), Int32(V))
        XCTAssertEqual(Double(ls[4]), row[4] - lse, accuracy: 1e-5)
    }

    func testLinearWithBias() {
        let (N, I, O) = (3, 5, 4)
        let x = Tensor([N, I], values: randomArray(N * I, &rng))
        let lin = Linear(
            name: "lin", weight: Parameter("w", Tensor([O, I], values: randomArray(O * I, &rng))),
            bias: Parameter("b", Tensor([O], values: randomArray(O, &rng))))
        let R = randomArray(N * O, &rng)
        let out = Tensor([N, O])
        func loss() -> Double { lin.forward(out.data, x.data, N: N); return dot(out.data, R) }
        _ = loss()
        let dx = Tensor([N, I])
        lin.backward(dx: dx.data, dout: R, x: x.data, N: N)
        checkGradient(
            "linear", inputs: [x.data, lin.weight.value.data, lin.bias!.value.data], counts: [N * I, O * I, O],
            analytic: [dx.array, lin.weight.grad!.array, lin.bias!.grad!.array], loss: loss)
    }

    func testVectorExpAccuracy() {
        // Softmax and SiLU rest on the kernels' exp; compare through softmax of a known row.
        let xs: [Float] = stride(from: -80, through: 80, by: 0.37).map { Float($0) }
        var row = xs
        ce_logsoftmax(&row, 1, Int32(xs.count))
        let lse = log(xs.map { exp(Double($0) - 80) }.reduce(0, +)) + 80
        for i in 0..<xs.count { XCTAssertEqual(Double(row[i]), Double(xs[i]) - lse, accuracy: 2e-5) }
    }
}

private extension Float { var reciprocal: Float { 1 / self } }
