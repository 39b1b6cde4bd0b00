import Engine
import Foundation
import Support

extension Trainer {
    /// Task loss of a batch of examples (indices into the training set), with its gradient
    /// accumulated into the trained tensors. As in the authors' code, the loss is the mean over
    /// the batch's real rows: an example whose suffix is empty counts as padding. Rows are
    /// right-padded with id 0, which a causal model's real positions never see.
    func taskLoss(_ batch: [Int], train: Bool, scale: Double) throws -> Double {
        let examples = batch.map { trainSet[$0].sequences(pair: session.lossType.isPair) }
            .filter { $0.allSatisfy { !$0.rows.isEmpty } }
        guard !examples.isEmpty else { return 0 }
        let seqs = examples.flatMap { $0 }
        let (tokens, T) = SequenceScorer.rightPadded(seqs.map(\.ids))
        let head = TaskLossObjective(examples: examples, T: T, lossType: session.lossType, scale: scale)
        let layout = RowLayout(lengths: seqs.map(\.ids.count), queries: seqs.map(\.query))
        try session.model.run(
            tokens: tokens, B: seqs.count, T: T, head: head, train: train, hooks: RunHooks(layout: layout))
        return head.loss
    }

    /// The training set in batches of `batch_size`, in file order (the last may be short).
    var batches: [[Int]] { chunks(trainSet.count) }

    /// The KL documents in batches of `batch_size`, as the authors pre-batch them.
    var klBatches: [[Int]] { chunks(data.klDocs.count) }

    func chunks(_ n: Int) -> [[Int]] {
        let size = config.batchSize
        return stride(from: 0, to: n, by: size).map { Array($0..<min($0 + size, n)) }
    }

    /// weight · KL(original ‖ edited) on KL document `index`, gradient accumulated.
    func klLoss(_ index: Int, weight: Double) throws -> Double {
        let model = session.model, doc = data.klDocs[index]
        let frozen = model.frozenPrefixLayers
        var entry = klCache[index]
        if entry == nil || entry!.prefix.map({ $0.layer != frozen }) ?? (frozen > 0) {
            let hooks = RunHooks(saveAt: frozen > 0 ? frozen : nil, saveFinalHidden: true)
            try session.withOriginalModel {
                try model.run(
                    tokens: doc, B: 1, T: doc.count, head: TokenNLL(rows: [], targets: []), train: false, hooks: hooks)
            }
            entry = (hooks.finalHidden!, hooks.saved)
            let bytes = (entry!.hidden.count + (entry!.prefix?.x.count ?? 0)) * 4
            if klCacheBytes + bytes <= PrefixCache.budgetBytes { klCache[index] = entry; klCacheBytes += bytes }
        }
        let ref = LogSoftmaxRows(T: doc.count, V: model.vocabSize)
        try session.withOriginalModel { try model.runHead(hidden: entry!.hidden, head: ref) }
        let head = KLObjective(reference: ref.out, weight: weight)
        try model.run(
            tokens: doc, B: 1, T: doc.count, head: head, train: true, hooks: entry!.prefix.map { RunHooks(resume: $0) })
        return head.loss
    }
}
