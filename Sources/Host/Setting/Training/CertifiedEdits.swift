import Engine
import Foundation
import Support

/// The edit files a run writes after each epoch inside a ball, and their check on resume.
extension RunRecorder {
    /// Where the edit certified for `ball` is saved: beside the results file.
    public func editPath(ball: Ball) -> String { paths.edit(ball) }

    public static func editPath(resultsPath: String, ball: Ball) -> String {
        RunPaths(log: "", results: resultsPath).edit(ball)
    }

    /// After an epoch: for every ball the epoch is inside (the last such epoch wins, as in the
    /// authors' best.pt), save the edit. `modelPath` names the base model in the artifact.
    /// Returns one line per edit written: where, and how large.
    @discardableResult
    public func saveEdits(
        _ stats: [EpochFigures], session: EditSession, method: String, modelPath: String
    ) throws
        -> [String]
    {
        let epoch = stats.count - 1
        let dtype: SafetensorsWriter.DType = config.training.edit_dtype == "f16" ? .f16 : .f32
        let balls = Ball.paper.filter { $0.contains(stats[epoch].general, reference: stats[0].general) }
        // Balls are nested, so an epoch inside several is one edit: written once, recording the
        // tightest ball, and linked under the other balls' names (no second copy on disk).
        guard let tightest = balls.min(by: { $0.epsilon < $1.epsilon }) else { return [] }
        let first = editPath(ball: balls[0])
        let bytes = try EditArtifact.save(
            session, method: method, basePath: modelPath, ball: tightest.key, epoch: epoch, to: first, dtype: dtype)
        var written = ["edit certified in ball \(balls[0].label) (epoch \(epoch)): \(first), \(Self.size(bytes))"]
        for ball in balls.dropFirst() {
            let path = editPath(ball: ball)
            var how = "the same file as \(first)"
            if (try? AtomicFile.link(first, to: path)) == nil {  // a filesystem without hard links: a copy
                how = Self.size(
                    try EditArtifact.save(
                        session, method: method, basePath: modelPath, ball: tightest.key, epoch: epoch, to: path,
                        dtype: dtype))
            }
            written.append("edit certified in ball \(ball.label) (epoch \(epoch)): \(path), \(how)")
        }
        return written
    }

    /// After a resume: every ball's certified epoch must have its edit on disk, whole, for that
    /// epoch (or a later one the resumed run will write again). An edit missing or corrupt for
    /// the checkpoint's own epoch is written again from the restored state; one for an earlier
    /// epoch cannot be rebuilt, and the run says so. Returns a line per edit rewritten.
    public func verifyEdits(
        _ stats: [EpochFigures], session: EditSession, method: String, modelPath: String
    ) throws
        -> [String]
    {
        let last = stats.count - 1
        var rewritten: [String] = []
        for ball in Ball.paper {
            let i = ball.lastEpochInside(stats.map(\.general))
            guard i > 0 else { continue }
            let path = editPath(ball: ball)
            if let (info, _) = try? EditArtifact.read(path), (info.epoch ?? -1) >= i { continue }
            guard i == last else {
                throw CanonEditError(
                    "\(path): the edit certified for ball \(ball.label) at epoch \(i) is missing or corrupt, and the "
                        + "checkpoint holds epoch \(last); delete the checkpoint and \(logPath) to run again")
            }
            let dtype: SafetensorsWriter.DType = config.training.edit_dtype == "f16" ? .f16 : .f32
            let bytes = try EditArtifact.save(
                session, method: method, basePath: modelPath, ball: ball.key, epoch: i, to: path, dtype: dtype)
            rewritten.append("\(path): missing or corrupt; written again from the checkpoint (\(Self.size(bytes)))")
        }
        return rewritten
    }
}
