import Foundation
import Kernels
import Support

/// A linear layer y = x Wᵀ + b with W stored (out, in) as PyTorch stores it. It may carry a
/// low-rank adapter (LoRA), whose forward and backward the host runs. A frozen W still in its
/// file's format is used as it is stored (StoredProduct).
public struct Linear {
    public let name: String  // module path, e.g. model.layers.12.mlp.down_proj
    public let weight: Parameter  // (out, in)
    public let bias: Parameter?  // (out)
    public let slot = AdapterSlot()
    public var inFeatures: Int { weight.value.shape[1] }
    public var outFeatures: Int { weight.value.shape[0] }

    public init(name: String, weight: Parameter, bias: Parameter? = nil) {
        precondition(weight.value.shape.count == 2, "\(weight.name) must be 2-D")
        self.name = name
        self.weight = weight
        self.bias = bias
    }

    public var trains: Bool { weight.requiresGrad || bias?.requiresGrad == true || slot.adapter?.trains == true }
    /// Trained now, or changed by an edit (adapters count while attached).
    public var changed: Bool { trains || weight.isEdited || bias?.isEdited == true || slot.adapter != nil }

    /// out (N, out) = x (N, in) Wᵀ + b (+ adapter). With `accumulate` the result is added to
    /// `out` (a residual connection).
    public func forward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, N: Int, accumulate: Bool = false)
    {
        if let w = weight.value.unmaterialized {
            StoredProduct.forward(out, x, N: N, w: w, accumulate: accumulate)
        } else {
            Blas.gemm(
                transB: true, M: N, N: outFeatures, K: inFeatures, A: x, lda: inFeatures,
                B: weight.value.data, ldb: inFeatures, beta: accumulate ? 1 : 0, C: out, ldc: outFeatures)
        }
        if let b = bias?.value.data {
            for n in 0..<N { ce_add(out + n * outFeatures, b, Int64(outFeatures)) }
        }
        if let a = slot.adapter, slot.enabled { a.forward(out, x, N: N) }
        slot.capture?(x, N)
    }

    /// dx (N, in) += dout W (skipped when dx is nil); dW += doutᵀ x and db += Σ dout when trained.
    public func backward(dx: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, x: UnsafePointer<Float>, N: Int)
    {
        if let dx, let w = weight.value.unmaterialized {
            StoredProduct.backwardInput(dx, dout, N: N, w: w)
        } else if let dx {
            Blas.gemm(
                M: N, N: inFeatures, K: outFeatures, A: dout, lda: outFeatures,
                B: weight.value.data, ldb: inFeatures, beta: 1, C: dx, ldc: inFeatures)
        }
        if let dW = weight.activeGrad {
            Blas.gemm(
                transA: true, M: outFeatures, N: inFeatures, K: N, A: dout, lda: outFeatures,
                B: x, ldb: inFeatures, beta: 1, C: dW, ldc: inFeatures)
        }
        if let g = weight.activeEntryGrad, let entries = weight.entries {
            // Only the selected entries: dW[o, i] = Σ_n dout[n, o] · x[n, i], O(entries · N).
            for (k, e) in entries.enumerated() {
                let (o, i) = (e / inFeatures, e % inFeatures)
                var s: Float = 0
                for n in 0..<N { s += dout[n * outFeatures + o] * x[n * inFeatures + i] }
                g[k] += s
            }
        }
        if let bias, let db = bias.activeGrad {
            for n in 0..<N { ce_add(db, dout + n * outFeatures, Int64(outFeatures)) }
        }
        if let a = slot.adapter, slot.enabled { a.backward(dx: dx, dout: dout, x: x, N: N) }
    }
}

/// Where an adapter hangs on a Linear. A class so adapters can be attached after the model
/// is built; `enabled = false` runs the layer as the unedited model.
public final class AdapterSlot {
    public var adapter: LowRankAdapter?
    public var enabled = true
    /// Called with each forward's input (N, in): how activations are captured.
    public var capture: ((UnsafePointer<Float>, Int) -> Void)?
}

/// y += scale · (x Aᵀ) Bᵀ with A (r, in) and B (out, r): LoRA (Hu et al. 2021).
public final class LowRankAdapter {
    public let A: Parameter  // (r, in)
    public let B: Parameter  // (out, r)
    public let scale: Float
    private var u = Tensor([0])  // (N, r) = x Aᵀ, saved by forward for backward

    public init(name: String, rank: Int, inFeatures: Int, outFeatures: Int, scale: Float) {
        A = Parameter(name + ".lora_A.weight", Tensor([rank, inFeatures]))
        B = Parameter(name + ".lora_B.weight", Tensor([outFeatures, rank]))
        self.scale = scale
    }

    public var rank: Int { A.value.shape[0] }
    public var trains: Bool { A.requiresGrad || B.requiresGrad }

    /// weight (out, in) += scale · B A: the adapter folded into the weight it adapts.
    public func fold(into weight: Tensor) {
        let (r, i, o) = (rank, A.value.shape[1], B.value.shape[0])
        Blas.gemm(
            M: o, N: i, K: r, alpha: scale, A: B.value.data, lda: r, B: A.value.data, ldb: i, beta: 1, C: weight.data,
            ldc: i)
    }

    func forward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, N: Int) {
        let (r, i, o) = (rank, A.value.shape[1], B.value.shape[0])
        if u.count < N * r { u = Tensor([N * r]) }
        Blas.gemm(transB: true, M: N, N: r, K: i, A: x, lda: i, B: A.value.data, ldb: i, C: u.data, ldc: r)
        Blas.gemm(
            transB: true, M: N, N: o, K: r, alpha: scale, A: u.data, lda: r, B: B.value.data, ldb: r, beta: 1, C: out,
            ldc: o)
    }

    func backward(dx: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, x: UnsafePointer<Float>, N: Int) {
        let (r, i, o) = (rank, A.value.shape[1], B.value.shape[0])
        // dB += scale · doutᵀ u ; du = scale · dout B ; dA += duᵀ x ; dx += du A
        if let dB = B.activeGrad {
            Blas.gemm(
                transA: true, M: o, N: r, K: N, alpha: scale, A: dout, lda: o, B: u.data, ldb: r, beta: 1, C: dB, ldc: r
            )
        }
        let du = Tensor([N * r])
        Blas.gemm(M: N, N: r, K: o, alpha: scale, A: dout, lda: o, B: B.value.data, ldb: r, C: du.data, ldc: r)
        if let dA = A.activeGrad {
            Blas.gemm(transA: true, M: r, N: i, K: N, A: du.data, lda: r, B: x, ldb: i, beta: 1, C: dA, ldc: i)
        }
        if let dx { Blas.gemm(M: N, N: i, K: r, A: du.data, lda: r, B: A.value.data, ldb: i, beta: 1, C: dx, ldc: i) }
    }
}
