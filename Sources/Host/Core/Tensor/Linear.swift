/// A linear layer y = x Wᵀ + b with W stored (out, in) as PyTorch stores it.
public struct Linear {
    public let weight: Parameter      // (out, in)
    public let bias: Parameter?       // (out)
    public var inFeatures: Int { weight.value.shape[1] }
    public var outFeatures: Int { weight.value.shape[0] }

    public init(weight: Parameter, bias: Parameter? = nil) {
        precondition(weight.value.shape.count == 2, "\(weight.name) must be 2-D")
        self.weight = weight
        self.bias = bias
    }

    /// out (N, out) = x (N, in) Wᵀ + b.
    /// With `accumulate` the product is added to `out` (a residual connection).
    public func forward(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, N: Int, accumulate: Bool = false) {
        Blas.gemm(transB: true, M: N, N: outFeatures, K: inFeatures, A: x, lda: inFeatures,
                  B: weight.value.data, ldb: inFeatures, beta: accumulate ? 1 : 0, C: out, ldc: outFeatures)
        if let b = bias?.value.data {
            for n in 0..<N { ce_add_row(out + n * outFeatures, b, outFeatures) }
        }
    }

    /// dx (N, in) += dout Wᵀᵀ (skipped when dx is nil); dW += doutᵀ x and db += Σ dout when trained.
    public func backward(dx: UnsafeMutablePointer<Float>?, dout: UnsafePointer<Float>, x: UnsafePointer<Float>, N: Int) {
        if let dx {
            Blas.gemm(M: N, N: inFeatures, K: outFeatures, A: dout, lda: outFeatures,
                      B: weight.value.data, ldb: inFeatures, beta: 1, C: dx, ldc: inFeatures)
        }
        if let dW = weight.activeGrad {
            Blas.gemm(transA: true, M: outFeatures, N: inFeatures, K: N, A: dout, lda: outFeatures,
                      B: x, ldb: inFeatures, beta: 1, C: dW, ldc: inFeatures)
        }
        if let bias, let db = bias.activeGrad {
            for n in 0..<N { ce_add_row(db, dout + n * outFeatures, outFeatures) }
        }
    }
}

import Kernels
@inline(__always) func ce_add_row(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ n: Int) {
    ce_add(y, x, Int64(n))
}
