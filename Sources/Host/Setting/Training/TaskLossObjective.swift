import Engine
import Foundation
import Support

/// The task loss of a batch of canonical examples (the authors' `utils.py:loss_batch`):
/// per-sequence mean NLL over the suffix positions, combined by the loss type, averaged over the
/// examples. Each example's sequences are consecutive rows of the batch (suffix1, then suffix2 for
/// a pair). Gradient weights are dL/dm_i / (S_i · E) on each suffix row, for E examples.
public final class TaskLossObjective: HeadObjective {
    public let rows: [Int]
    let targets: [Int32]
    let sequenceOf: [Int]  // the batch row (sequence) of each scored row
    let counts: [Int]  // suffix tokens per sequence
    let exampleOf: [Int]  // the example of each sequence
    let slotOf: [Int]  // 0 for suffix1, 1 for suffix2
    let examples: Int
    let lossType: LossType
    let scale: Double  // 1, or 1/grad_acc_steps under true accumulation
    public private(set) var nll: [Float]
    private var observed: [Float]

    /// One example: its one sequence, or two for a pair.
    public convenience init(sequences: [ScoredSequence], T: Int, lossType: LossType, scale: Double = 1) {
        self.init(examples: [sequences], T: T, lossType: lossType, scale: scale)
    }

    /// A batch of examples, their sequences laid out as consecutive rows of a (rows, T) batch.
    public init(examples: [[ScoredSequence]], T: Int, lossType: LossType, scale: Double = 1) {
        var rows: [Int] = [], targets: [Int32] = [], seqOf: [Int] = []
        let sequences = examples.flatMap { $0 }
        for (b, s) in sequences.enumerated() {
            for r in s.rows { rows.append(b * T + r); targets.append(s.ids[r + 1]); seqOf.append(b) }
        }
        self.rows = rows
        self.targets = targets
        sequenceOf = seqOf
        counts = sequences.map { $0.rows.count }
        exampleOf = examples.enumerated().flatMap { e, seqs in seqs.map { _ in e } }
        slotOf = examples.flatMap { seqs in seqs.indices.map { $0 } }
        self.examples = examples.count
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

    /// Per example, the means of its suffix1 and (for a pair) suffix2.
    func exampleMeans(_ v: [Float]) -> [(Double, Double?)] {
        var out = [(Double, Double?)](repeating: (0, nil), count: examples)
        for (s, m) in means(v).enumerated() {
            if slotOf[s] == 0 { out[exampleOf[s]].0 = m } else { out[exampleOf[s]].1 = m }
        }
        return out
    }

    public var loss: Double {
        let total = exampleMeans(nll).reduce(0.0) { $0 + lossType.loss(mean1: $1.0, mean2: $1.1) }
        return total / Double(max(examples, 1))
    }

    public func observe(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int) {
        targets.withUnsafeBufferPointer { tg in
            observed.withUnsafeMutableBufferPointer { out in
                VocabularySoftmax.crossEntropy(
                    logits, nll: out.baseAddress! + k.lowerBound, targets: tg.baseAddress! + k.lowerBound,
                    gradScale: nil, R: k.count, V: V)
            }
        }
    }

    public func consume(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool) {
        var weights: [Float]? = nil
        if wantGrad {
            let grads = exampleMeans(needsFirstPass ? observed : nll).map {
                lossType.lossGradient(mean1: $0.0, mean2: $0.1)
            }
            weights = k.map { i in
                let s = sequenceOf[i]
                let (g1, g2) = grads[exampleOf[s]]
                return Float((slotOf[s] == 0 ? g1 : g2) * scale / Double(max(counts[s], 1)) / Double(examples))
            }
        }
        targets.withUnsafeBufferPointer { tg in
            nll.withUnsafeMutableBufferPointer { out in
                if let weights {
                    weights.withUnsafeBufferPointer { w in
                        VocabularySoftmax.crossEntropy(
                            logits, nll: out.baseAddress! + k.lowerBound, targets: tg.baseAddress! + k.lowerBound,
                            gradScale: w.baseAddress!, R: k.count, V: V)
                    }
                } else {
                    VocabularySoftmax.crossEntropy(
                        logits, nll: out.baseAddress! + k.lowerBound, targets: tg.baseAddress! + k.lowerBound,
                        gradScale: nil, R: k.count, V: V)
                }
            }
        }
    }
}
