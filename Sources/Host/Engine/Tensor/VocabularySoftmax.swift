import Kernels

/// The softmax kernels over rows of V logits (softmax.c), with the rows split over threads.
/// Every row is computed by itself, so results do not depend on the split.
public enum VocabularySoftmax {
    /// nll[r] = logsumexp(row r) − row r[target r] (0 for a negative target); with `gradScale`
    /// each row becomes gradScale[r] · d(nll)/d(logits).
    public static func crossEntropy(
        _ logits: UnsafeMutablePointer<Float>, nll: UnsafeMutablePointer<Float>, targets: UnsafePointer<Int32>,
        gradScale: UnsafePointer<Float>?, R: Int, V: Int
    ) {
        Parallel.split(R, cost: V) { _, r in
            ce_softmax_xent(
                logits + r.lowerBound * V, nll + r.lowerBound, targets + r.lowerBound,
                gradScale.map { $0 + r.lowerBound },
                Int64(r.count), Int32(V))
        }
    }

    /// Each row of x (R, V) replaced by its log-softmax.
    public static func logSoftmax(_ x: UnsafeMutablePointer<Float>, R: Int, V: Int) {
        Parallel.split(R, cost: V) { _, r in ce_logsoftmax(x + r.lowerBound * V, Int64(r.count), Int32(V)) }
    }

    /// kl[r] = KL(reference row r ‖ softmax(logits row r)), reference given as log-probabilities;
    /// with `writeGrad` the logits become weight · d(KL)/d(logits).
    public static func kl(
        _ logits: UnsafeMutablePointer<Float>, kl: UnsafeMutablePointer<Float>, reference: UnsafePointer<Float>,
        weight: Float, R: Int, V: Int, writeGrad: Bool
    ) {
        Parallel.split(R, cost: V) { _, r in
            ce_kl_rows(
                logits + r.lowerBound * V, kl + r.lowerBound, reference + r.lowerBound * V, weight, Int64(r.count),
                Int32(V), writeGrad ? 1 : 0)
        }
    }
}
