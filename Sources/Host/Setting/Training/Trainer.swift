import Engine
import Foundation
import Support

/// The training loop the host runs for every method (the authors' `trainer.py`): epochs with a
/// cosine learning rate, one batch of canonical examples per iteration (batch_size, padded as the
/// authors pad it), a KL term on one random batch of general documents, an update every
/// grad_acc_steps iterations, evaluation after each epoch. The losses are in TrainerLosses.swift.
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
    /// The method being trained (in sequential editing, the current step's instance).
    var method: EditMethod
    /// A new instance of the method, for each step of sequential editing.
    public var makeMethod: (() -> EditMethod)?
    /// The canonical examples trained on (in sequential editing, the current step's).
    var trainSet: [TokenizedExample]
    let recorder: RunRecorder
    public var progress: (String) -> Void = { _ in }
    /// Lines that a terminal may redraw in place (the example being trained); `progress` if nil.
    public var transient: ((String) -> Void)?
    /// When set, the edit is saved for each ball after every epoch inside it.
    public var saveEdits: (modelPath: String, method: String)?
    /// Whether the last epoch writes a checkpoint: a run that deletes its checkpoint when it
    /// finishes needs none (about three copies of the trained tensors), one that keeps it does.
    public var checkpointsLastEpoch = true

    /// Whether iterations whose gradients the authors' rule discards run forward only (a
    /// variable so a test can compare with running them in full).
    nonisolated(unsafe) static var skipsDiscardedPasses = true
    /// Iterations run forward only so far (for that test).
    nonisolated(unsafe) static var forwardOnlyIterations = 0

    /// The model after the method's `prepare`, when that already changed what it computes
    /// (recorded beside epoch 0; balls stay relative to the untouched epoch 0).
    public private(set) var afterPrepare: EpochFigures?

    public init(config: ExperimentConfig, data: Data, session: EditSession, method: EditMethod, recorder: RunRecorder) {
        self.config = config
        self.data = data
        self.session = session
        self.method = method
        self.recorder = recorder
        trainSet = data.train
    }

    /// Learning rate during epoch e of E: lr · (1 + cos(π e / E)) / 2 (stepped per epoch).
    public static func cosineLR(_ lr: Double, epoch: Int, epochs: Int) -> Double {
        epochs == 0 ? lr : lr * (1 + cos(Double.pi * Double(epoch) / Double(epochs))) / 2
    }

    /// Per KL document: the unedited model's final hidden states (so its log-probabilities
    /// cost one output-layer product, not a forward pass) and the residual stream at the frozen
    /// layer (so the edited model's pass starts there).
    var klCache: [Int: (hidden: Tensor, prefix: ResidualState?)] = [:]
    /// The model's unselected tensors as the method found them: checked after prepare, after
    /// each epoch of updates and after a closed-form apply, so a write to any of them ends the run.
    var guardian: UntouchedModelGuard?
    var klCacheBytes = 0

    /// Runs (or resumes) the experiment. Returns the per-epoch figures, index 0 = unedited.
    @discardableResult
    public func run() throws -> [EpochFigures] {
        if let k = config.sequential?.edits_per_step { return try runSequential(editsPerStep: k) }
        let E = config.training.num_epochs
        session.epochs = E
        var stats = try startOrResume(epochs: E)
        if method.closedForm {
            // One edit, measured as epoch 1 against the unedited epoch 0.
            if stats.count < 2 { try applyClosedForm(&stats) }
            return stats
        }
        var step = session.adam.states.values.map { Int($0.t) }.max() ?? 0
        let first = stats.count - 1, runStarted = Date()
        for epoch in first..<E {
            session.epoch = epoch
            let started = Date()
            let losses = try trainEpoch(epoch, of: E, step: &step)
            try Cancellation.check()
            try guardian?.check(session, method: method.id, stage: "update")
            let trained = Date()
            // The epoch's trained values are final: they go to disk while it is evaluated.
            var checkpoint = RunRecorder.CheckpointWrite.skipped
            if epoch < E - 1 || checkpointsLastEpoch {
                checkpoint = .begun(try recorder.beginCheckpoint(stats, session: session))
            }
            var f = try data.evaluator.evaluate(session.model)
            f.train_loss = mean(losses)
            try saveSamples(epoch: epoch + 1)
            let evaluated = Date()
            try record(f, into: &stats, checkpoint: checkpoint)
            let elapsed = Date().timeIntervalSince(runStarted)
            let left = elapsed / Double(epoch + 1 - first) * Double(E - epoch - 1)
            progress(
                Self.describe(epoch + 1, f)
                    + String(
                        format: " (training %.1f s, evaluation %.1f s: ", trained.timeIntervalSince(started),
                        evaluated.timeIntervalSince(trained)) + data.evaluator.times.summary + ")")
            progress(
                "  " + Self.ballStatus(f.general, reference: stats[0].general) + "; "
                    + Self.duration(elapsed) + " elapsed, about " + Self.duration(left) + " left")
        }
        return stats
    }

    /// Epoch 0 is the model exactly as loaded, evaluated before any method code runs; then the
    /// method prepares (and must leave every tensor it did not select untouched). A run with a
    /// checkpoint prepares and then restores the records and trained values instead.
    func startOrResume(epochs E: Int) throws -> [EpochFigures] {
        let resuming = recorder.hasCheckpoint
        var untouched: EpochFigures? = nil
        if !resuming {
            progress("epoch 0/\(E): evaluating the unedited model")
            untouched = try evaluateWithTrainLoss(timed: true)
            try saveSamples(epoch: 0)
        }
        let guardian = UntouchedModelGuard(session.model)
        self.guardian = guardian
        if resuming { session.methodState = try recorder.savedMethodState() }
        try method.prepare(session)
        try guardian.check(session, method: method.id)
        if resuming {
            let (stats, after) = try recorder.resume(session: session)
            afterPrepare = after
            progress("resuming after epoch \(stats.count - 1) of \(E)")
            if let e = saveEdits {
                for line in try recorder.verifyEdits(stats, session: session, method: e.method, modelPath: e.modelPath)
                {
                    progress(line)
                }
            }
            // Locality compares with the unedited model's predictions: record them again.
            _ = try session.withOriginalModel { try data.evaluator.locality?.unchangedShare(session.model) }
            return stats
        }
        progress(Self.describe(0, untouched!))
        let stats = [untouched!]
        // Recorded first, so that a method failing in its first pass still leaves epoch 0.
        try recorder.record(stats, session: session)
        if session.differsFromOriginal {
            let f = try evaluateWithTrainLoss(timed: false)
            afterPrepare = f
            progress(
                Self.describe(0, f).replacingOccurrences(of: "epoch 0:", with: "after prepare:")
                    + " (the method's prepare changed the model; balls stay relative to epoch 0)")
            try recorder.record(stats, session: session, afterPrepare: afterPrepare)
        }
        return stats
    }

    /// The last evaluation's per-example outcomes, when they are logged.
    func saveSamples(epoch: Int) throws {
        if let log = data.evaluator.sampleLog { try recorder.writeSamples(log.last, epoch: epoch) }
    }

    /// The evaluation figures of the model as it is now, with the task loss of every example.
    func evaluateWithTrainLoss(timed: Bool) throws -> EpochFigures {
        let t0 = Date()
        var f = try data.evaluator.evaluate(session.model)
        if timed {
            progress(
                String(format: "evaluation took %.1f s (", Date().timeIntervalSince(t0)) + data.evaluator.times.summary
                    + ")")
        }
        f.train_loss = try mean(batches.map { try taskLoss($0, train: false, scale: 1) })
        return f
    }

    /// A closed-form method's one edit, evaluated and recorded as epoch 1.
    func applyClosedForm(_ stats: inout [EpochFigures]) throws {
        progress("applying the \(method.id) edit")
        let started = Date()
        try session.applyClosedForm(method)
        try guardian?.check(session, method: method.id, stage: "apply")
        let f = try evaluateWithTrainLoss(timed: false)
        try saveSamples(epoch: 1)
        try record(f, into: &stats)
        progress(
            Self.describe(1, stats[1])
                + String(format: " (edit and evaluation %.1f s)", Date().timeIntervalSince(started)))
    }

    /// An epoch's figures appended and recorded; the edit saved for each ball it is inside.
    /// The edits go to disk before the checkpoint that records their epoch, so a crash between
    /// the two never leaves a certified epoch without its edit.
    func record(
        _ f: EpochFigures, into stats: inout [EpochFigures], checkpoint: RunRecorder.CheckpointWrite = .now
    ) throws {
        stats.append(f)
        if let e = saveEdits {
            for line in try recorder.saveEdits(stats, session: session, method: e.method, modelPath: e.modelPath) {
                progress(line)
            }
        }
        try recorder.record(stats, session: session, afterPrepare: afterPrepare, checkpoint: checkpoint)
    }

    /// One pass over the canonical examples in a seeded order (epoch counts from 0). Returns
    /// each example's task loss.
    func trainEpoch(_ epoch: Int, of E: Int, step: inout Int) throws -> [Double] {
        let accumulate = config.accumulate
        let accSteps = config.gradAccSteps
        let klWeight = config.training.regularization_weight ?? 0
        let lr = Self.cosineLR(config.training.learning_rate, epoch: epoch, epochs: E)
        let batches = batches, klBatches = klBatches
        var order = Array(batches.indices)
        order.shuffle(using: &session.rng)
        var losses: [Double] = []
        var acc = 0
        session.zeroGrads()
        let started = Date()
        let unit = config.batchSize == 1 ? "example" : "batch"
        for (i, idx) in order.enumerated() {
            try Cancellation.check()
            // Authors' rule: gradients are cleared every iteration, so a step sees one example.
            if !accumulate { session.zeroGrads() }
            let scale = accumulate ? 1 / Double(accSteps) : 1
            // Under the authors' rule only the iteration that completes a group reaches the
            // optimizer; the others' gradients would be cleared unused, so they run forward only
            // (their loss is logged) and skip the KL term (its document is still drawn). Methods
            // with hooks see every training pass, as they may keep state from it.
            let reachesUpdate =
                accumulate || acc + 1 == accSteps || session.hookMethod != nil || !Self.skipsDiscardedPasses
            if !reachesUpdate { Self.forwardOnlyIterations += 1 }
            losses.append(try taskLoss(batches[idx], train: reachesUpdate, scale: scale))
            acc += 1
            if klWeight > 0, !klBatches.isEmpty {
                // KL summed over the batch's documents, divided by the batch size (the authors' `regularize.py`).
                let kl = klBatches[Int(session.rng.next() % UInt64(klBatches.count))]
                if reachesUpdate {
                    for doc in kl { _ = try klLoss(doc, weight: klWeight * scale / Double(config.batchSize)) }
                }
            }
            if acc == accSteps {
                try update(lr: lr, step: &step)
                acc = 0
                if accumulate { session.zeroGrads() }
            }
            if i % 10 == 9 || i == order.count - 1 {
                let rate = Double(i + 1) / max(Date().timeIntervalSince(started), 1e-9)
                let recent = losses.suffix(10).reduce(0, +) / Double(min(10, losses.count))
                (transient ?? progress)(
                    String(
                        format: "epoch %d/%d: \(unit) %d/%d, loss %.4f, %.1f \(unit)s/s", epoch + 1, E, i + 1,
                        order.count, recent, rate))
            }
        }
        // True accumulation flushes a partial group; the authors' rule drops it (the authors'
        // `trainer.py`).
        if accumulate, acc > 0 { try update(lr: lr, step: &step) }
        return losses
    }

    /// The method's update, then the NaN checks: gradients first (a bad gradient is the cause
    /// to report), then values. The Adam steps checked the tensors they stepped on the way; a
    /// failed run keeps its last good epoch, so the values a bad gradient spoilt are not used.
    func update(lr: Double, step: inout Int) throws {
        _ = session.adam.takeChecks()
        step += 1
        try session.update(with: method, learningRate: lr, step: step)
        let known = session.adam.takeChecks()
        if let bad = session.firstNonFinite(grads: true, known: known) {
            throw TrainingFailure("non-finite gradient in \(bad)")
        }
        if let bad = session.firstNonFinite(known: known) { throw TrainingFailure("the update made \(bad) non-finite") }
    }

    func mean(_ xs: [Double]) -> Double { xs.isEmpty ? 0 : xs.reduce(0, +) / Double(xs.count) }

}

/// A run that stopped because the numbers went bad; the last good epoch's results are kept.
public struct TrainingFailure: Error, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
