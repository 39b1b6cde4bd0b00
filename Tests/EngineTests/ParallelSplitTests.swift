import Foundation
import Kernels
import Support
import TestSupport
import XCTest

@testable import Engine

/// Loops split over threads (attention over sequences, MLP activations, the vocabulary softmax,
/// Adam) compute what the serial loop computes, bit for bit.
final class ParallelSplitTests: XCTestCase {
    /// Runs `body` once with no loop split and once with every loop split over two threads,
    /// however small. Products are split over two threads both times (Blas.gemm's parts depend
    /// on the thread count, and a product's last bits on its parts), which is not what this checks.
    func serialAndSplit<T>(_ body: () throws -> T) rethrows -> (T, T) {
        let (threads, minimum) = (Blas.threads, Parallel.minimumWork)
        defer { Blas.setThreads(threads); Parallel.minimumWork = minimum }
        Blas.setThreads(2)
        Parallel.minimumWork = Int.max
        let serial = try body()
        Parallel.minimumWork = 0
        XCTAssertEqual(Parallel.threads, 2)
        return (serial, try body())
    }

    /// Loss, KL and every parameter's gradient of a training pass on four sequences.
    func pass(_ model: DecoderLM, B: Int, T: Int) throws -> [[Float]] {
        let ids = (0..<(B * T)).map { Int32(($0 * 7919 + 13) % min(model.vocabSize, 300)) }
        let trained = model.parameters.filter(\.requiresGrad)
        for p in trained { p.dropGrad() }
        let head = TokenNLL(nextTokensOf: ids, B: B, T: T)
        try model.run(tokens: ids, B: B, T: T, head: head, train: true)
        let reference = LogSoftmaxRows(T: B * T, V: model.vocabSize)
        try model.run(tokens: ids, B: B, T: T, head: reference, train: false)
        let kl = KLObjective(reference: reference.out, weight: 0.5)
        try model.run(tokens: ids.reversed(), B: B, T: T, head: kl, train: true)
        return [head.nll, kl.kl, reference.out.array] + trained.map { $0.grad!.array }
    }

    func testTrainingPassesAreIdenticalSplitOverThreads() throws {
        for name in ["llama", "gpt_neox", "gemma3", "gpt2"] {
            let model = try ModelStore.load(Fixtures.folder + "/zoo/" + name).model as! DecoderLM
            model.setTrainable(true)
            let (serial, split) = try serialAndSplit { try pass(model, B: 4, T: 10) }
            XCTAssertEqual(serial.count, split.count, name)
            for (i, (a, b)) in zip(serial, split).enumerated() {
                XCTAssertEqual(a, b, "\(name): output \(i) differs when split over threads")
            }
            XCTAssertTrue(serial.last!.contains { $0 != 0 }, name)
        }
    }

    /// Sequences of 128 are taken in blocks of 64 query (and key) rows, each block's products
    /// small enough for OpenBLAS's calling thread: attention split over two threads gives what
    /// it gives on one, bit for bit, forward and backward.
    func testAttentionIsTheSameOnOneThreadAndTwo() {
        let (B, T, H, G, D) = (4, 128, 4, 2, 32)
        var rng = SeededRandom(seed: 3)
        func random(_ n: Int) -> Tensor { Tensor([n], values: (0..<n).map { _ in Float(rng.normal()) }) }
        let q = random(B * T * H * D), k = random(B * T * G * D), v = random(B * T * G * D)
        let dout = random(B * T * H * D)
        func run(threads: Int) -> [[Float]] {
            Blas.setThreads(threads)
            let out = Tensor([B * T * H * D]), probs = Tensor([B * H * T * T])
            let (dq, dk, dv) = (Tensor([B * T * H * D]), Tensor([B * T * G * D]), Tensor([B * T * G * D]))
            let scratch = Tensor([2 * T * T])
            BatchAttention.forward(
                out: out.data, probs: probs.data, q: q.data, k: k.data, v: v.data, B: B, T: T, H: H, G: G,
                D: D, scale: 0.2, window: 0)
            BatchAttention.backward(
                dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: dout.data, probs: probs.data,
                q: q.data, k: k.data, v: v.data, B: B, T: T, H: H, G: G, D: D, scale: 0.2)
            return [out.array, dq.array, dk.array, dv.array]
        }
        let threads = Blas.threads
        defer { Blas.setThreads(threads) }
        XCTAssertLessThan(Int(ce_attention_block_rows(Int32(T), Int32(D))), T, "in blocks")
        let whole = run(threads: 1), split = run(threads: 2)
        for i in 0..<4 { XCTAssertEqual(whole[i], split[i], "output \(i)") }
        XCTAssertTrue(whole[1].contains { $0 != 0 })
    }

    /// The forward pass in blocks of query rows (each seeing only the keys up to its last row),
    /// split over threads, against attention written out in double: a last block shorter than
    /// the others, grouped heads and a sliding window included.
    func testBlockedAttentionMatchesAttentionWrittenOut() {
        let (B, T, H, G, D) = (2, 130, 4, 2, 64)
        let rows = Int(ce_attention_block_rows(Int32(T), Int32(D)))
        XCTAssertTrue(rows < T && T % rows != 0, "several blocks, the last one shorter: \(rows)")
        var rng = SeededRandom(seed: 9)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.normal()) } }
        let (q, k, v) = (random(B * T * H * D), random(B * T * G * D), random(B * T * G * D))
        let threads = Blas.threads
        defer { Blas.setThreads(threads) }
        Blas.setThreads(2)
        for window in [0, 40] {
            let out = Tensor([B * T * H * D]), probs = Tensor([B * H * T * T])
            BatchAttention.forward(
                out: out.data, probs: probs.data, q: q, k: k, v: v, B: B, T: T, H: H, G: G, D: D, scale: 0.125,
                window: window)
            var worst = 0.0
            for b in 0..<B {
                for h in 0..<H {
                    let g = h / (H / G)
                    for t in 0..<T {
                        let first = window > 0 ? max(0, t - window + 1) : 0
                        var scores = [Double](repeating: -.infinity, count: T)
                        for s in first...t {
                            var dot = 0.0
                            for d in 0..<D {
                                dot +=
                                    Double(q[(b * T + t) * H * D + h * D + d])
                                    * Double(k[(b * T + s) * G * D + g * D + d])
                            }
                            scores[s] = 0.125 * dot
                        }
                        let top = scores.max()!, e = scores.map { exp($0 - top) }, sum = e.reduce(0, +)
                        for s in 0..<T {
                            worst = max(worst, abs(e[s] / sum - Double(probs[((b * H + h) * T + t) * T + s])))
                        }
                        for d in 0..<D {
                            var o = 0.0
                            for s in 0..<T { o += e[s] / sum * Double(v[(b * T + s) * G * D + g * D + d]) }
                            worst = max(worst, abs(o - Double(out[(b * T + t) * H * D + h * D + d])))
                        }
                    }
                }
            }
            XCTAssertLessThan(worst, 1e-5, "window \(window)")
        }
    }

    /// The backward pass in blocks (dV and dK by key rows, dQ by query rows) against the one
    /// that multiplies whole sequences, at 2 threads, a short last block and grouped heads.
    func testBlockedAttentionBackwardMatchesWholeProducts() {
        let (B, T, H, G, D) = (2, 130, 4, 2, 64)
        var rng = SeededRandom(seed: 11)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.normal()) } }
        let (q, k, v, dout) = (
            random(B * T * H * D), random(B * T * G * D), random(B * T * G * D), random(B * T * H * D)
        )
        let threads = Blas.threads
        defer { Blas.setThreads(threads) }
        Blas.setThreads(2)
        func gradients(blocked: Bool) -> [[Float]] {
            let out = Tensor([B * T * H * D]), probs = Tensor([B * H * T * T]), scratch = Tensor([2 * T * T])
            let (dq, dk, dv) = (Tensor([B * T * H * D]), Tensor([B * T * G * D]), Tensor([B * T * G * D]))
            for i in 0..<dk.count { dk[i] = 0.5; dv[i] = -0.25 }  // both accumulate
            BatchAttention.forward(
                out: out.data, probs: probs.data, q: q, k: k, v: v, B: B, T: T, H: H, G: G, D: D, scale: 0.125,
                window: 0)
            if blocked {
                BatchAttention.backward(
                    dq: dq.data, dk: dk.data, dv: dv.data, scratch: scratch.data, dout: dout, probs: probs.data, q: q,
                    k: k, v: v, B: B, T: T, H: H, G: G, D: D, scale: 0.125)
            } else {
                ce_attention_backward(
                    dq.data, dk.data, dv.data, scratch.data, dout, probs.data, q, k, v, Int32(B), Int32(T), Int32(H),
                    Int32(G), Int32(D), 0.125)
            }
            return [dq.array, dk.array, dv.array]
        }
        let whole = gradients(blocked: false), blocked = gradients(blocked: true)
        for (i, name) in ["dq", "dk", "dv"].enumerated() {
            let worst = zip(whole[i], blocked[i]).map { abs($0 - $1) }.max()!
            XCTAssertLessThan(worst, 1e-5, name)
        }
    }

    func testSplitCoversEveryItemOnce() {
        let (threads, minimum) = (Blas.threads, Parallel.minimumWork)
        defer { Blas.setThreads(threads); Parallel.minimumWork = minimum }
        Blas.setThreads(2)
        Parallel.minimumWork = 0
        for (n, align) in [(0, 1), (1, 1), (3, 1), (4, 1), (1000, 1), (1000, 64), (129, 32)] {
            let seen = UnsafeMutablePointer<Int>.allocate(capacity: max(n, 1))
            seen.initialize(repeating: 0, count: max(n, 1))
            defer { seen.deallocate() }
            var parts = Set<Int>()
            let lock = NSLock()
            Parallel.split(n, align: align) { part, r in
                lock.lock()
                parts.insert(part)
                lock.unlock()
                XCTAssertTrue(r.lowerBound % align == 0, "\(n) \(align): part starts off the alignment")
                for i in r { seen[i] += 1 }
            }
            XCTAssertEqual((0..<n).filter { seen[$0] != 1 }, [], "\(n) items, align \(align)")
            XCTAssertTrue(parts.isSubset(of: [0, 1]))
        }
    }
}
