import Engine
import Foundation
import Support

extension Trainer {
    /// Sequential editing (`sequential: {edits_per_step: k}`): the canonical examples k at a time,
    /// in file order, one edit after another on the same model. Each step prepares a new instance
    /// of the method on its examples (the adapters of the step before folded into their weights
    /// first; hooks, tensors and state of earlier steps stay), trains num_epochs on them or applies
    /// a closed-form edit, and is evaluated: record s is the model after step s (0 = unedited), so
    /// balls stay relative to the unedited model and the last record's efficacy is the retention,
    /// the success on every edit made. Checkpoints are written after each step; a resumed run
    /// prepares the finished steps again (from their saved state) and loads their values.
    func runSequential(editsPerStep k: Int) throws -> [EpochFigures] {
        let all = data.train
        let steps = stride(from: 0, to: all.count, by: k).map { Array(all[$0..<min($0 + k, all.count)]) }
        guard !steps.isEmpty else { throw CanonEditError("sequential editing needs canonical examples") }
        let E = config.training.num_epochs, S = steps.count
        session.epochs = E
        var stats: [EpochFigures] = [], done = 0
        if recorder.hasCheckpoint {
            session.methodState = try recorder.savedMethodState()
            done = try recorder.savedRecords().count - 1
            for s in 0..<done { try prepareStep(s, steps) }
            stats = try recorder.resume(session: session).stats
            progress("resuming after step \(done) of \(S)")
            _ = try session.withOriginalModel { try data.evaluator.locality?.unchangedShare(session.model) }
        } else {
            progress("step 0/\(S): evaluating the unedited model")
            stats = [try evaluateWithTrainLoss(timed: true)]
            try saveSamples(epoch: 0)
            progress(Self.describe(0, stats[0]))
            try recorder.record(stats, session: session)
        }
        var updates = session.adam.states.values.map { Int($0.t) }.max() ?? 0
        for s in done..<S {
            let started = Date()
            try prepareStep(s, steps)
            progress("step \(s + 1)/\(S): \(steps[s].count) canonical examples")
            var losses: [Double] = []
            if method.closedForm {
                try session.applyClosedForm(method)
                try Cancellation.check()  // an interrupted step is redone from the last checkpoint
                try guardian?.check(session, method: method.id, stage: "apply")
            } else {
                for epoch in 0..<E {
                    session.epoch = epoch
                    losses = try trainEpoch(epoch, of: E, step: &updates)
                    try Cancellation.check()
                    try guardian?.check(session, method: method.id, stage: "update")
                }
            }
            var f = try data.evaluator.evaluate(session.model)
            f.train_loss = losses.isEmpty ? nil : mean(losses)
            try saveSamples(epoch: s + 1)
            try record(f, into: &stats)
            progress(
                Self.describe(s + 1, f).replacingOccurrences(of: "epoch", with: "step")
                    + (f.efficacy.map { String(format: ", retention %.4f", $0) } ?? "")
                    + String(format: " (%.1f s)", Date().timeIntervalSince(started)))
            progress("  " + Self.ballStatus(f.general, reference: stats[0].general))
        }
        return stats
    }

    /// The method of step s, prepared on that step's examples.
    func prepareStep(_ s: Int, _ steps: [[TokenizedExample]]) throws {
        if s > 0 {
            guard let makeMethod else { throw CanonEditError("sequential editing needs a way to make the method") }
            session.endEdit()
            method = makeMethod()
        }
        session.methodStep = s
        session.useExamples(steps[s])
        trainSet = steps[s]
        let guardian = UntouchedModelGuard(session.model)
        self.guardian = guardian
        try method.prepare(session)
        try guardian.check(session, method: method.id)
    }
}
