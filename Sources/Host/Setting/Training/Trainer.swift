import Engine
import Foundation
import Support

/// The training loop the host runs for every method (spec §3): epochs with a cosine
/// learning rate, one canonical example per iteration, a KL term on one random general
/// document, an update every grad_acc_steps iterations, evaluation after each epoch.
public final class Trainer {
    public struct Data {
        public let train: [TokenizedExample]
        public let evaluator: Evaluator
        public let klDocs: [[Int32]]

        public init(train: [TokenizedExample], evaluator: Evaluator, klDocs: [[Int32]]) {
            self.train = train
            self.evaluator = evaluator
            self.klDocs = klDocs
        }
    }

    public let config: ExperimentConfig
    let data: Data
    let session: EditSession
    let method: EditMethod
    let recorder: RunRecorder
    public var progress: (String) -> Void = { _ in }
    /// When set, the edit is saved for each ball after every epoch inside it.
    public var saveEdits: (modelPath: String, method: String)?

    /// Set when the caller ran method.prepare itself (to look at the selection first).
    public var prepared = false

    public init(config: ExperimentConfig, data: Data, session: EditSession, method: EditMethod, recorder: RunRecorder) {
        self.config = config
        self.data = data
        self.session = session
        self.method = method
        self.recorder = recorder
    }

    /// Learning rate during epoch e of E: lr · (1 + cos(π e / E)) / 2 (stepped per epoch).
    public static func cosineLR(_ lr: Double, epoch: Int, epochs: Int) -> Double {
        epochs == 0 ? lr : lr * (1 + cos(Double.pi * Double(epoch) / Double(epochs))) / 2
    }

    /// Task loss of one example, with its gradient accumulated into the trained tensors.
    func taskLoss(_ ex: TokenizedExample, train: Bool, scale: Double) throws -> Double {
        let seqs = ex.sequences(pair: session.lossType.isPair)
        guard seqs.allSatisfy({ !$0.rows.isEmpty }) else { return 0 }
        let T = seqs.map(\.ids.count).max()!
        var tokens = [Int32](repeating: 0, count: seqs.count * T)
        for (b, s) in seqs.enumerated() { for (i, id) in s.ids.enumerated() { tokens[b * T + i] = id } }
        let head = TaskLossObjective(sequences: seqs, T: T, lossType: session.lossType, scale: scale)
        try session.model.run(tokens: tokens, B: seqs.count, T: T, head: head, train: train)
        return head.loss
    }

    /// Per KL document: the unedited model's final hidden states (so its log-probabilities
    /// cost one output-layer product, not a forward pass) and the residual stream at the frozen
    /// layer (so the edited model's pass starts there).
    var klCache: [Int: (hidden: Tensor, prefix: ResidualState?)] = [:]
    var klCacheBytes = 0

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

    /// Runs (or resumes) the experiment. Returns the per-epoch figures, index 0 = unedited.
    @discardableResult
    public func run() throws -> [EpochFigures] {
        let E = config.training.num_epochs
        if !prepared { try method.prepare(session) }
        var stats = try startOrResume(epochs: E)
        if method.closedForm {
            // One edit, measured as epoch 1 against the unedited epoch 0.
            if stats.count < 2 { try applyClosedForm(&stats) }
            return stats
        }
        var step = session.adam.states.values.map { Int($0.t) }.max() ?? 0
        for epoch in (stats.count - 1)..<E {
            let started = Date()
            let losses = try trainEpoch(epoch, of: E, step: &step)
            try Cancellation.check()
            let trained = Date()
            var f = try data.evaluator.evaluate(session.model)
            f.train_loss = mean(losses)
            try record(f, into: &stats)
            progress(
                Self.describe(epoch + 1, f)
                    + String(
                        format: " (training %.1f s, evaluation %.1f s)",
                        trained.timeIntervalSince(started), Date().timeIntervalSince(trained)))
        }
        return stats
    }

    /// The records of a checkpoint to resume from, or else epoch 0: the unedited model evaluated.
    func startOrResume(epochs E: Int) throws -> [EpochFigures] {
        var stats = try recorder.resume(session: session)
        if stats.isEmpty {
            progress("epoch 0/\(E): evaluating the unedited model")
            let t0 = Date()
            var f = try data.evaluator.evaluate(session.model)
            progress(String(format: "evaluation took %.1f s", Date().timeIntervalSince(t0)))
            f.train_loss = try mean(data.train.map { try taskLoss($0, train: false, scale: 1) })
            stats.append(f)
            try recorder.record(stats, session: session)
            progress(Self.describe(0, f))
        } else {
            progress("resuming after epoch \(stats.count - 1) of \(E)")
            // Locality compares with the unedited model's predictions: record them again.
            _ = try session.withOriginalModel { try data.evaluator.locality?.unchangedShare(session.model) }
        }
        return stats
    }

    /// A closed-form method's one edit, evaluated and recorded as epoch 1.
    func applyClosedForm(_ stats: inout [EpochFigures]) throws {
        progress("applying the \(method.id) edit")
        let started = Date()
        try session.applyClosedForm(method)
        var f = try data.evaluator.evaluate(session.model)
        f.train_loss = try mean(data.train.map { try taskLoss($0, train: false, scale: 1) })
        try record(f, into: &stats)
        progress(
            Self.describe(1, f) + String(format: " (edit and evaluation %.1f s)", Date().timeIntervalSince(started)))
    }

    /// An epoch's figures appended and recorded; the edit saved for each ball it is inside.
    func record(_ f: EpochFigures, into stats: inout [EpochFigures]) throws {
        stats.append(f)
        try recorder.record(stats, session: session)
        if let e = saveEdits {
            try recorder.saveEdits(stats, session: session, method: e.method, modelPath: e.modelPath)
        }
    }

    /// One pass over the canonical examples in a seeded order (epoch counts from 0). Returns
    /// each example's task loss.
    func trainEpoch(_ epoch: Int, of E: Int, step: inout Int) throws -> [Double] {
        let accumulate = config.accumulate
        let accSteps = config.gradAccSteps
        let klWeight = config.training.regularization_weight ?? 0
        let lr = Self.cosineLR(config.training.learning_rate, epoch: epoch, epochs: E)
        var order = Array(data.train.indices)
        order.shuffle(using: &session.rng)
        var losses: [Double] = []
        var acc = 0
        session.zeroGrads()
        let started = Date()
        for (i, idx) in order.enumerated() {
            try Cancellation.check()
            // Authors' rule: gradients are cleared every iteration, so a step sees one example.
            if !accumulate { session.zeroGrads() }
            let scale = accumulate ? 1 / Double(accSteps) : 1
            losses.append(try taskLoss(data.train[idx], train: true, scale: scale))
            acc += 1
            if klWeight > 0, !data.klDocs.isEmpty {
                _ = try klLoss(Int(session.rng.next() % UInt64(data.klDocs.count)), weight: klWeight * scale)
            }
            if acc == accSteps {
                try update(lr: lr, step: &step)
                acc = 0
                if accumulate { session.zeroGrads() }
            }
            if i % 10 == 9 || i == order.count - 1 {
                let rate = Double(i + 1) / max(Date().timeIntervalSince(started), 1e-9)
                let recent = losses.suffix(10).reduce(0, +) / Double(min(10, losses.count))
                progress(
                    String(
                        format: "epoch %d/%d: example %d/%d, loss %.4f, %.1f examples/s", epoch + 1, E, i + 1,
                        order.count, recent, rate))
            }
        }
        // True accumulation flushes a partial group; the authors' rule drops it (spec §3.3).
        if accumulate, acc > 0 { try update(lr: lr, step: &step) }
        return losses
    }

    func update(lr: Double, step: inout Int) throws {
        if let bad = session.firstNonFinite(grads: true) { throw TrainingFailure("non-finite gradient in \(bad)") }
        step += 1
        try session.update(with: method, learningRate: lr, step: step)
        if let bad = session.firstNonFinite() { throw TrainingFailure("the update made \(bad) non-finite") }
    }

    func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }

    static func describe(_ epoch: Int, _ f: EpochFigures) -> String {
        String(format: "epoch %d: success %.4f, general %.5f", epoch, f.success, f.general)
            + (f.hard_negative.map { String(format: ", hard negatives %.4f", $0) } ?? "")
            + (f.train_loss.map { String(format: ", train loss %.4f", $0) } ?? "")
            + (f.edit_score.map { String(format: ", edit score %.3f", $0) } ?? "")
    }
}

/// A run that stopped because the numbers went bad; the last good epoch's results are kept.
public struct TrainingFailure: Error, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
