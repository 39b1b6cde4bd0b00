import Engine
import Foundation
import Kernels
import Setting
import Support

/// Σ_rows weight · KL(teacher ‖ student) over the whole vocabulary, the teacher's logits
/// recomputed chunk by chunk from its final hidden states (R, C) and output embedding (V, C).
/// The gradient on the student's logits is weight · (softmax(student) − softmax(teacher)).
final class DistillationObjective: HeadObjective {
    let rows: [Int]
    let teacher: UnsafePointer<Float>
    let head: Parameter
    let bias: Parameter?
    let weight: Float
    private(set) var kl: [Float]
    private var reference: Tensor? = nil

    init(rows: Int, teacher: UnsafePointer<Float>, head: Parameter, bias: Parameter?, weight: Float) {
        self.rows = Array(0..<rows)
        self.teacher = teacher
        self.head = head
        self.bias = bias
        self.weight = weight
        kl = [Float](repeating: 0, count: rows)
    }

    /// Mean KL per row, in nats.
    var meanKL: Double { kl.reduce(0.0) { $0 + Double($1) } / Double(max(kl.count, 1)) }

    func consume(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool) {
        let C = head.value.shape[1]
        if reference == nil || reference!.count < k.count * V { reference = Tensor([k.count, V]) }
        let ref = reference!.data  // (k, V)
        Blas.gemm(
            transB: true, M: k.count, N: V, K: C, A: teacher + k.lowerBound * C, lda: C, B: head.value.data, ldb: C,
            C: ref, ldc: V)
        if let b = bias?.value.data { for i in 0..<k.count { ce_add(ref + i * V, b, Int64(V)) } }
        VocabularySoftmax.logSoftmax(ref, R: k.count, V: V)
        kl.withUnsafeMutableBufferPointer { out in
            VocabularySoftmax.kl(
                logits, kl: out.baseAddress! + k.lowerBound, reference: ref, weight: weight, R: k.count, V: V,
                writeGrad: wantGrad)
        }
    }
}
