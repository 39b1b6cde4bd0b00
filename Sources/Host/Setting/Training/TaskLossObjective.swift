import Engine
import Foundation
import Kernels
import Support

/// The task loss of one canonical example (spec §3.4): per-sequence mean NLL over the suffix
/// positions, combined by the loss type. Single-suffix examples are one row of the batch,
/// pairs two (suffix1 then suffix2). Gradient weights are dL/dm_i / S_i on each suffix row.
public final class TaskLossObjective: HeadObjective {
    public let rows: [Int]
    let targets: [Int32]
    let sequenceOf: [Int]  // 0 or 1 for each row
    let counts: [Int]  // suffix tokens per sequence
    let lossType: LossType
    let scale: Double  // 1, or 1/grad_acc_steps under true accumulation
    public private(set) var nll: [Float]
    private var observed: [Float]

    public init(sequences: [ScoredSequence], T: Int, lossType: LossType, scale: Double = 1) {
        var rows: [Int] = [], targets: [Int32] = [], seqOf: [Int] = []
        for (b, s) in sequences.enumerated() {
            for r in s.rows { rows.append(b * T + r); targets.append(s.ids[r + 1]); seqOf.append(b) }
        }
        self.rows = rows
        self.targets = targets
        sequenceOf = seqOf
        counts = sequences.map { $0.rows.count }
        self.lossType = lossType
        self.scale = scale
        nll = [Float](repeating: 0, count: rows.count)
        observed = nll
    }

    public var needsFirstPass: Bool { lossType == .balance }

    func means(_ v: [Float]) -> [Double] {
        var sums = [Double](repeating: 0, count: counts.count)
        for (k, x) in v.enumerated() { sums[sequenceOf[k]] += Double(x) }
        return zip(sums, counts).map { $1 > 0 ? $0 / Double($1) : 0 }
    }

    public var loss: Double {
        let m = means(nll)
        return lossType.loss(mean1: m[0], mean2: m.count > 1 ? m[1] : nil)
    }

    public func observe(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int) {
        targets.withUnsafeBufferPointer { tg in
            observed.withUnsafeMutableBufferPointer { out in
                ce_softmax_xent(
                    logits, out.baseAddress! + k.lowerBound, tg.baseAddress! + k.lowerBound, nil, Int64(k.count),
                    Int32(V))
            }
        }
    }

    public func consume(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool) {
        var weights: [Float]? = nil
        if wantGrad {
            let m = means(needsFirstPass ? observed : nll)
            let (g1, g2) = lossType.lossGradient(mean1: m[0], mean2: m.count > 1 ? m[1] : nil)
            weights = k.map { i in
                let s = sequenceOf[i]
                return Float((s == 0 ? g1 : g2) * scale / Double(max(counts[s], 1)))
            }
        }
        targets.withUnsafeBufferPointer { tg in
            nll.withUnsafeMutableBufferPointer { out in
                if let weights {
                    weights.withUnsafeBufferPointer { w in
                        ce_softmax_xent(
                            logits, out.baseAddress! + k.lowerBound, tg.baseAddress! + k.lowerBound, w.baseAddress!,
                            Int64(k.count), Int32(V))
                    }
                } else {
                    ce_softmax_xent(
                        logits, out.baseAddress! + k.lowerBound, tg.baseAddress! + k.lowerBound, nil, Int64(k.count),
                        Int32(V))
                }
            }
        }
    }
}
