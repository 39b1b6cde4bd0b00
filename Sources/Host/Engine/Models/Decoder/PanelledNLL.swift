import Foundation
import Kernels

/// The output layer for a token NLL without its gradient (evaluation, the bench's forward): the
/// logits of a chunk of rows are made a panel of vocabulary columns at a time, and each panel is
/// folded into the rows' running log-sum-exp while it is still in cache. Taking a whole
/// (256, V) chunk first (as the gradient path still does) and then its row maxima and sums read
/// 50 MB back from memory twice per chunk for SmolLM2. The sums are merged panel by panel, so a
/// row's NLL differs from the whole-row softmax (VocabularySoftmax.crossEntropy) in its last
/// bits (HeadPanelTests: within 1e-6 relative); it depends only on the panel sizes, never on the
/// thread count.
enum PanelledNLL {
    /// Rows and vocabulary columns per panel: a (1024, 2048) panel of logits is 8 MB and
    /// SmolLM2's weights for it 4.7 MB as fp32, both held in the 32 MB L3 between the product
    /// and the sums. (bench 16 × 64, alternating: 83–84% of sgemm with (256, 4096) panels, 86%
    /// with these, five rounds each; the stored head is decoded once per pass instead of once
    /// per 256 rows.) Variables so tests can make them small.
    nonisolated(unsafe) static var chunkRows = 1024
    nonisolated(unsafe) static var panelColumns = 2048

    static func run(
        hidden hR: UnsafePointer<Float>, R: Int, C: Int, weight: Parameter, bias: Parameter?, head: TokenNLL,
        scratch: Scratch
    ) {
        let V = weight.value.shape[0], width = min(panelColumns, V)
        let chunk = min(chunkRows, R)
        let logits = scratch.get("head.panel", chunk * width)  // (chunk, width)
        let stored = weight.value.unmaterialized
        let decoded = stored.map { _ in scratch.get("head.panelWeights", width * C) }  // (width, C)
        var rowMax = [Float](repeating: 0, count: chunk), rowSum = [Double](repeating: 0, count: chunk)
        var targetLogit = [Float](repeating: 0, count: chunk)
        var nll = [Float](repeating: 0, count: R), isArgmax = [Bool](repeating: false, count: R)
        head.targets.withUnsafeBufferPointer { targets in
            for k0 in stride(from: 0, to: R, by: chunk) {
                let kc = min(chunk, R - k0)
                rowMax.withUnsafeMutableBufferPointer { $0.update(repeating: -.infinity) }
                rowSum.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
                for c0 in stride(from: 0, to: V, by: width) {
                    let n = min(width, V - c0)
                    // logits (kc, n) = h W[c0 ..< c0 + n]ᵀ (+ b)
                    // (A stored head is only decoded: reading `data` would make its fp32 copy.)
                    let w: UnsafePointer<Float>
                    if let stored, let decoded {
                        StoredProduct.decode(stored, rows: c0..<(c0 + n), into: decoded)
                        w = UnsafePointer(decoded)
                    } else {
                        w = UnsafePointer(weight.value.data + c0 * C)
                    }
                    Blas.gemm(
                        transB: true, M: kc, N: n, K: C, A: hR + k0 * C, lda: C, B: w, ldb: C, C: logits, ldc: n)
                    if let b = bias?.value.data { for i in 0..<kc { ce_add(logits + i * n, b + c0, Int64(n)) } }
                    rowMax.withUnsafeMutableBufferPointer { mx in
                        rowSum.withUnsafeMutableBufferPointer { sm in
                            targetLogit.withUnsafeMutableBufferPointer { tl in
                                Parallel.split(kc, cost: n) { _, r in
                                    let i = r.lowerBound
                                    ce_logsumexp_panel(
                                        logits + i * n, Int64(r.count), Int32(n), Int32(n), Int32(c0),
                                        mx.baseAddress! + i, sm.baseAddress! + i, targets.baseAddress! + k0 + i,
                                        tl.baseAddress! + i)
                                }
                            }
                        }
                    }
                }
                for i in 0..<kc where targets[k0 + i] >= 0 {
                    nll[k0 + i] = (rowMax[i] + Float(log(rowSum[i]))) - targetLogit[i]
                    isArgmax[k0 + i] = targetLogit[i] >= rowMax[i]
                }
            }
        }
        head.record(nll, isArgmax: isArgmax)
    }
}
