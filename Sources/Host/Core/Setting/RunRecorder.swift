import Foundation

/// Writes a run's results so that nothing is lost when it stops: after every epoch the
/// checkpoint (trained tensors, Adam state, random state and every epoch record so far) and
/// then the epoch log are each written atomically. A rerun of the same config resumes from
/// the checkpoint; a different config refuses to reuse it.
public final class RunRecorder {
    public let logPath: String
    public let resultsPath: String
    public var checkpointPath: String { logPath + ".ckpt.safetensors" }
    let fingerprint: String
    let configJSON: Any

    public init(logPath: String, resultsPath: String, config: ExperimentConfig, modelPath: String) throws {
        self.logPath = logPath
        self.resultsPath = resultsPath
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let data = try enc.encode(config)
        configJSON = try JSONSerialization.jsonObject(with: data)
        fingerprint = String(format: "%016llx", Self.fnv1a(Array(data) + Array(modelPath.utf8)))
        for p in [logPath, resultsPath] {
            let dir = (p as NSString).deletingLastPathComponent
            if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        }
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// Epoch records so far, with the session restored to the end of the last one. Empty
    /// when there is nothing to resume.
    public func resume(session: EditSession) throws -> [EpochFigures] {
        guard FileManager.default.fileExists(atPath: checkpointPath) else { return [] }
        let f = try SafetensorsFile(path: checkpointPath)
        guard f.metadata["fingerprint"] == fingerprint else {
            throw CanonEditError("\(checkpointPath): belongs to a different config or model; delete it (and \(logPath)) to start over")
        }
        guard let recText = f.metadata["records"], let rec = recText.data(using: .utf8),
              let stats = try? JSONDecoder().decode([EpochFigures].self, from: rec),
              let rngText = f.metadata["rng"], let rng = UInt64(rngText) else {
            throw CanonEditError("\(checkpointPath): checkpoint metadata is unreadable (corrupt?); delete it to start over")
        }
        for p in session.trained {
            try f.load(p.name, into: p.value)
            if f.has("adam_m." + p.name) {
                let s = session.adam.state(for: p)
                try f.load("adam_m." + p.name, into: s.m)
                try f.load("adam_v." + p.name, into: s.v)
                s.t = Int64(f.metadata["adam_t." + p.name] ?? "0") ?? 0
            }
        }
        session.rng.state = rng
        try writeLog(stats)
        return stats
    }

    /// Called after every epoch (index 0 = unedited).
    public func record(_ stats: [EpochFigures], session: EditSession) throws {
        var tensors: [(String, Tensor)] = []
        var meta = ["fingerprint": fingerprint, "rng": String(session.rng.state),
                    "records": String(decoding: try JSONEncoder().encode(stats), as: UTF8.self)]
        for p in session.trained {
            tensors.append((p.name, p.value))
            if let s = session.adam.states[p.name] {
                tensors.append(("adam_m." + p.name, s.m))
                tensors.append(("adam_v." + p.name, s.v))
                meta["adam_t." + p.name] = String(s.t)
            }
        }
        try SafetensorsWriter.write(tensors, to: checkpointPath, metadata: meta)
        try writeLog(stats)
    }

    func writeLog(_ stats: [EpochFigures]) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var text = Data()
        for (i, s) in stats.enumerated() {
            var obj = try JSONSerialization.jsonObject(with: enc.encode(s)) as! [String: Any]
            obj["epoch"] = i
            obj["success"] = s.success
            text += try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]) + Data("\n".utf8)
        }
        try AtomicFile.write(text, to: logPath)
    }

    /// Where the edit certified for ball ε is saved: beside the results file.
    public func editPath(ball: Double) -> String {
        var stem = resultsPath
        for suffix in [".json", ".results"] where stem.hasSuffix(suffix) { stem = String(stem.dropLast(suffix.count)) }
        return stem + ".edit-\(Ball.key(ball)).safetensors"
    }

    /// After an epoch: for every ball the epoch is inside (the last such epoch wins, as in the
    /// authors' best.pt), save the edit. `modelPath` names the base model in the artifact.
    public func saveEdits(_ stats: [EpochFigures], session: EditSession, method: String, modelPath: String) throws {
        let epoch = stats.count - 1
        for eps in Ball.epsilons where stats[epoch].general < stats[0].general * (1 + eps) {
            try EditArtifact.save(session, method: method, basePath: modelPath, ball: Ball.key(eps), epoch: epoch, to: editPath(ball: eps))
        }
    }

    /// The authors' results shape (spec §2.4): initial figures and, per ball, the last epoch
    /// inside it, plus the config; `error` records why a run ended early.
    public func finish(_ stats: [EpochFigures], error: String? = nil) throws -> [String: Any] {
        let enc = JSONEncoder()
        func obj(_ f: EpochFigures) throws -> [String: Any] {
            var o = try JSONSerialization.jsonObject(with: enc.encode(f)) as! [String: Any]
            o["success"] = f.success
            return o
        }
        var test: [String: Any] = ["initial_eval": try obj(stats[0])]
        let general = stats.map(\.general)
        for eps in Ball.epsilons {
            let i = Ball.lastInBall(general, epsilon: eps)
            var o = try obj(stats[i])
            o["index"] = i
            test[Ball.key(eps)] = o
        }
        var result: [String: Any] = ["test": test, "config": configJSON, "epochs_completed": stats.count - 1]
        if let error { result["error"] = error }
        try AtomicFile.write(try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .prettyPrinted]), to: resultsPath)
        return result
    }
}
