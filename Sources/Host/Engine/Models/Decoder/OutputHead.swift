import Foundation
import Kernels
import Support

/// The output layer shared by every architecture: logits = h Wᵀ (+ b) for the rows the head
/// objective asks for, computed in chunks so the (rows, V) logits never exist all at once.
/// With `dHidden` set, the objective's d(logits) flow back into dHidden (N, C) (rows the head
/// did not ask for get zero) and into W's and b's gradients.
enum OutputHead {
    static let chunkRows = 256

    static func run(
        hidden: UnsafePointer<Float>, N: Int, C: Int, weight: Parameter, bias: Parameter? = nil,
        head: HeadObjective, dHidden: UnsafeMutablePointer<Float>?, scratch: Scratch
    ) {
        let V = weight.value.shape[0]
        let rows = head.rows
        let R = rows.count
        if let dHidden { dHidden.update(repeating: 0, count: N * C) }
        guard R > 0 else { return }
        precondition(rows.allSatisfy { $0 >= 0 && $0 < N }, "head rows outside the batch")
        // hR (R, C): the chosen rows, contiguous.
        let contiguous = R == N && rows.last == N - 1 && rows.first == 0
        let hR: UnsafeMutablePointer<Float>
        if contiguous {
            hR = UnsafeMutablePointer(mutating: hidden)
        } else {
            hR = scratch.get("head.h", R * C)
            for (k, r) in rows.enumerated() { (hR + k * C).update(from: hidden + r * C, count: C) }
        }
        if dHidden == nil, let nll = head as? TokenNLL {
            return PanelledNLL.run(
                hidden: hR, R: R, C: C, weight: weight, bias: bias, head: nll, scratch: scratch)
        }
        let dhR: UnsafeMutablePointer<Float>? = dHidden.map { contiguous ? $0 : scratch.zeroed("head.dh", R * C) }
        let chunk = min(chunkRows, R)
        let logits = scratch.get("head.logits", chunk * V)  // (chunk, V)
        // A head still in its stored format (an untied 128K-word head is 2 GB as fp32): products
        // read the blocks; a trained head has its fp32 copy from the moment it was selected.
        let stored = weight.value.unmaterialized
        func computeLogits(_ k0: Int, _ kc: Int) {
            if let stored {
                StoredProduct.forward(logits, hR + k0 * C, N: kc, w: stored, accumulate: false)
            } else {
                Blas.gemm(
                    transB: true, M: kc, N: V, K: C, A: hR + k0 * C, lda: C, B: weight.value.data, ldb: C, C: logits,
                    ldc: V)
            }
            if let b = bias?.value.data { for i in 0..<kc { ce_add(logits + i * V, b, Int64(V)) } }
        }
        if dhR != nil && head.needsFirstPass {
            for k0 in stride(from: 0, to: R, by: chunk) {
                let kc = min(chunk, R - k0)
                computeLogits(k0, kc)
                head.observe(k0..<(k0 + kc), logits: logits, V: V)
            }
        }
        var k0 = 0
        while k0 < R {
            let kc = min(chunk, R - k0)
            computeLogits(k0, kc)
            head.consume(k0..<(k0 + kc), logits: logits, V: V, wantGrad: dhR != nil)
            if let dhR {
                // logits now hold dL/dlogits (kc, V).
                if let stored {
                    StoredProduct.backwardInput(dhR + k0 * C, logits, N: kc, w: stored)
                } else {
                    Blas.gemm(
                        M: kc, N: C, K: V, A: logits, lda: V, B: weight.value.data, ldb: C, beta: 1, C: dhR + k0 * C,
                        ldc: C)
                }
                if let dW = weight.activeGrad {
                    Blas.gemm(
                        transA: true, M: V, N: C, K: kc, A: logits, lda: V, B: hR + k0 * C, ldb: C, beta: 1, C: dW,
                        ldc: C)
                }
                if let bias, let db = bias.activeGrad { for i in 0..<kc { ce_add(db, logits + i * V, Int64(V)) } }
            }
            k0 += kc
        }
        if let dHidden, let dhR, !contiguous {
            for (k, r) in rows.enumerated() { ce_add(dHidden + r * C, dhR + k * C, Int64(C)) }
        }
    }
}
