import Foundation
import Support

/// Negative log-likelihood of a target token at each chosen row. As a training loss it is
/// Σ_k weight[k] · nll[k]; as an evaluation it just records nll.
public final class TokenNLL: HeadObjective {
    public let rows: [Int]
    public let targets: [Int32]
    public let weights: [Float]?
    public private(set) var nll: [Float]
    /// Whether each row's target is its most likely token (ties count): what greedy decoding emits.
    public private(set) var isArgmax: [Bool]

    public init(rows: [Int], targets: [Int32], weights: [Float]? = nil) {
        precondition(rows.count == targets.count && (weights?.count ?? rows.count) == rows.count)
        self.rows = rows
        self.targets = targets
        self.weights = weights
        nll = [Float](repeating: 0, count: rows.count)
        isArgmax = [Bool](repeating: false, count: rows.count)
    }

    /// Every position of a (B, T) batch predicting the next id in its row; the last
    /// position of each row (no next token) is left out.
    public convenience init(nextTokensOf tokens: [Int32], B: Int, T: Int) {
        var rows: [Int] = [], targets: [Int32] = []
        for b in 0..<B { for t in 0..<(T - 1) { rows.append(b * T + t); targets.append(tokens[b * T + t + 1]) } }
        self.init(rows: rows, targets: targets)
    }

    public var loss: Double {
        var s = 0.0
        for k in 0..<nll.count { s += Double(nll[k]) * Double(weights?[k] ?? 1) }
        return s
    }

    /// Every row's NLL and argmax flag at once, from the output layer's panels (PanelledNLL).
    func record(_ values: [Float], isArgmax flags: [Bool]) {
        precondition(values.count == nll.count && flags.count == nll.count)
        nll = values
        isArgmax = flags
    }

    public func consume(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool) {
        // Scoring only (training needs no argmax); before the softmax overwrites the logits.
        for (i, row) in k.enumerated() where !wantGrad && targets[row] >= 0 && Int(targets[row]) < V {
            let x = logits + i * V, t = x[Int(targets[row])]
            var top = -Float.infinity
            for j in 0..<V where x[j] > top { top = x[j] }
            isArgmax[row] = t >= top
        }
        let scale = wantGrad ? Array(weights?[k] ?? ArraySlice(repeating: 1, count: k.count)) : nil
        func run(_ gradScale: UnsafePointer<Float>?) {
            targets.withUnsafeBufferPointer { tg in
                nll.withUnsafeMutableBufferPointer { out in
                    VocabularySoftmax.crossEntropy(
                        logits, nll: out.baseAddress! + k.lowerBound, targets: tg.baseAddress! + k.lowerBound,
                        gradScale: gradScale, R: k.count, V: V)
                }
            }
        }
        if let scale { scale.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
    }
}

/// Copies the raw logits of the chosen rows (for `logits`, generation, and tests).
public final class LogitRows: HeadObjective {
    public let rows: [Int]
    public private(set) var logits: [Float] = []
    public private(set) var V = 0

    public init(rows: [Int]) { self.rows = rows }

    public func consume(_ k: Range<Int>, logits src: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool) {
        if self.V == 0 { self.V = V; logits = [Float](repeating: 0, count: rows.count * V) }
        logits.withUnsafeMutableBufferPointer { dst in
            (dst.baseAddress! + k.lowerBound * V).update(from: src, count: k.count * V)
        }
        if wantGrad { src.update(repeating: 0, count: k.count * V) }
    }

    public func row(_ k: Int) -> ArraySlice<Float> { logits[(k * V)..<((k + 1) * V)] }
}

/// weight · KL(original ‖ edited), summed over every position of a document and over the vocabulary
/// (the authors' `regularize.py`). `reference` holds the unedited model's log-softmax (T, V).
public final class KLObjective: HeadObjective {
    public let rows: [Int]
    let reference: Tensor
    let weight: Float
    public private(set) var kl: [Float]

    /// `reference` row k is the unedited log-softmax for rows[k] (all rows by default).
    public init(reference: Tensor, weight: Double, rows: [Int]? = nil) {
        self.rows = rows ?? Array(0..<reference.rows)
        self.reference = reference
        self.weight = Float(weight)
        kl = [Float](repeating: 0, count: reference.rows)
    }

    public var loss: Double { Double(weight) * kl.reduce(0.0) { $0 + Double($1) } }

    public func consume(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool) {
        kl.withUnsafeMutableBufferPointer { out in
            VocabularySoftmax.kl(
                logits, kl: out.baseAddress! + k.lowerBound, reference: reference.data + k.lowerBound * V,
                weight: weight, R: k.count, V: V, writeGrad: wantGrad)
        }
    }
}

/// The full log-softmax of every row (the KL reference).
public final class LogSoftmaxRows: HeadObjective {
    public let rows: [Int]
    public let out: Tensor

    public init(T: Int, V: Int) {
        rows = Array(0..<T)
        out = Tensor([T, V])
    }

    public init(rows: [Int], V: Int) {
        self.rows = rows
        out = Tensor([rows.count, V])
    }

    public func consume(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool) {
        VocabularySoftmax.logSoftmax(logits, R: k.count, V: V)
        (out.data + k.lowerBound * V).update(from: logits, count: k.count * V)
    }
}
