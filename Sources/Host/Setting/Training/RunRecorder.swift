import Engine
import Foundation
import Support

/// Writes a run's results so that nothing is lost when it stops: after every epoch the
/// checkpoint (trained tensors, Adam state, random state and every epoch record so far) and
/// then the epoch log are each written atomically. A rerun of the same config resumes from
/// the checkpoint; a different config refuses to reuse it.
public final class RunRecorder {
    public let paths: RunPaths
    public var logPath: String { paths.log }
    public var resultsPath: String { paths.results }
    public var checkpointPath: String { paths.checkpoint }
    let fingerprint: String
    let config: ExperimentConfig
    let modelPath: String
    /// The canonedit version results name (the CLI's --version text).
    public var version: String?
    /// The model after the method's prepare, when that changed it (see Trainer).
    public private(set) var afterPrepare: EpochFigures?

    /// `dataFiles` names every input by its role (the config key): a checkpoint is resumed only
    /// with the same contents. The checkpoint's fingerprint leaves out num_epochs, so running a
    /// kept checkpoint with more epochs extends it.
    public init(
        logPath: String, resultsPath: String, config: ExperimentConfig, modelPath: String,
        dataFiles: [String: String] = [:]
    ) throws {
        paths = RunPaths(log: logPath, results: resultsPath)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var identity = config
        // Epochs only extend a run; in sequential editing they are per edit, so they count.
        if config.sequential == nil { identity.training.num_epochs = 0 }
        let data = try enc.encode(identity)
        self.config = config
        self.modelPath = modelPath
        fingerprint = FNV1a.hex(of: Array(data) + Array(modelPath.utf8))
        for p in [logPath, resultsPath] {
            let dir = (p as NSString).deletingLastPathComponent
            if !dir.isEmpty { try Folder.make(dir) }
        }
        locks = try Array(Set([logPath, resultsPath])).sorted().map(OutputLock.init)
        dataHashes = dataFiles.mapValues { path in
            "\(path) " + (MappedFile.contents(path).map { FNV1a.hex(of: $0) } ?? "missing")
        }
    }

    /// Exclusive locks on the log and results while this run writes them.
    let locks: [OutputLock]
    /// role → "path content-hash" of every input.
    let dataHashes: [String: String]

    /// Refuses a checkpoint made from other data, naming what changed.
    func checkData(_ f: SafetensorsFile) throws {
        guard let text = f.metadata["data"],
            let saved = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        else { return }
        for (role, now) in dataHashes.sorted(by: { $0.key < $1.key }) where saved[role] != now {
            let path = now.split(separator: " ").dropLast().joined(separator: " ")
            throw CanonEditError(
                "\(checkpointPath): \(role) (\(path)) changed since this checkpoint was written; resuming would mix "
                    + "epochs trained on different data. Delete the checkpoint (and \(logPath)) to start over")
        }
    }

    public var hasCheckpoint: Bool { FileManager.default.fileExists(atPath: checkpointPath) }

    /// The checkpoint and its records, refused when it belongs to another config, model or data.
    func openCheckpoint() throws -> (file: SafetensorsFile, records: [EpochFigures]) {
        let f = try SafetensorsFile(path: checkpointPath)
        guard f.metadata["fingerprint"] == fingerprint else {
            throw CanonEditError(
                "\(checkpointPath): belongs to a different config or model; delete it (and \(logPath)) to start over")
        }
        try checkData(f)
        guard let text = f.metadata["records"],
            let stats = try? JSONDecoder().decode([EpochFigures].self, from: Data(text.utf8))
        else {
            throw CanonEditError(
                "\(checkpointPath): checkpoint metadata is unreadable (corrupt?); delete it to start over")
        }
        return (f, stats)
    }

    /// The records the checkpoint holds (index 0 = unedited), without restoring anything.
    public func savedRecords() throws -> [EpochFigures] { try openCheckpoint().records }

    /// The method's own state as the checkpoint saved it (handed to the method before its
    /// prepare on resume, so it is not rebuilt from the partly edited model).
    public func savedMethodState() throws -> [String: Data] {
        guard hasCheckpoint else { return [:] }
        guard let text = try openCheckpoint().file.metadata["method_state"] else { return [:] }
        return try MethodStateText.decode(text, source: checkpointPath)
    }

    /// Epoch records so far (and the after-prepare figures, if any), with the session restored
    /// to the end of the last epoch. Empty when there is nothing to resume.
    public func resume(session: EditSession) throws -> (stats: [EpochFigures], afterPrepare: EpochFigures?) {
        guard hasCheckpoint else { return ([], nil) }
        let (f, stats) = try openCheckpoint()
        guard let rngText = f.metadata["rng"], let rng = UInt64(rngText) else {
            throw CanonEditError(
                "\(checkpointPath): checkpoint metadata is unreadable (corrupt?); delete it to start over")
        }
        // A closed-form method selects its tensors in apply, which finished steps do not run
        // again: the model tensors the checkpoint holds are selected here.
        for name in f.tensorNames where !session.trained.contains(where: { $0.name == name }) {
            if let p = session.model.parameter(name) { session.train(p) }
        }
        for p in session.trained {
            if let e = p.entries {
                // Only the entries are saved.
                let v = Tensor([e.count])
                try f.load(p.name + ":entries", into: v)
                p.setEntryValues(v)
            } else {
                try f.load(p.name, into: p.value)
            }
            if f.has("adam_m." + p.name) {
                let s = session.adam.state(for: p)
                try f.load("adam_m." + p.name, into: s.m)
                try f.load("adam_v." + p.name, into: s.v)
                s.t = Int64(f.metadata["adam_t." + p.name] ?? "0") ?? 0
            }
        }
        session.rng.state = rng
        try writeLog(stats)
        let after = f.metadata["after_prepare"].flatMap {
            try? JSONDecoder().decode(EpochFigures.self, from: Data($0.utf8))
        }
        afterPrepare = after
        return (stats, after)
    }

    /// How `record` writes the checkpoint: whole, now; finishing one `beginCheckpoint` started;
    /// or not at all (the last epoch of a run whose checkpoint is deleted when it finishes).
    public enum CheckpointWrite {
        case now
        case begun(PendingSafetensors)
        case skipped
    }

    /// Called after every epoch (index 0 = unedited): the checkpoint, then the epoch log.
    public func record(
        _ stats: [EpochFigures], session: EditSession, afterPrepare: EpochFigures? = nil,
        checkpoint: CheckpointWrite = .now
    ) throws {
        self.afterPrepare = afterPrepare
        switch checkpoint {
        case .now:
            let meta = try checkpointMetadata(stats, session: session)
            try SafetensorsWriter.write(checkpointTensors(session), to: checkpointPath, metadata: meta)
        case .begun(let pending): try pending.finish(metadata: try checkpointMetadata(stats, session: session))
        case .skipped: break
        }
        try writeLog(stats)
    }

    /// Starts writing the checkpoint's arrays (trained tensors and Adam moments) while the
    /// epoch is evaluated; `record` adds its records. `stats` are the records so far, for the
    /// header's room. Nothing may train until `record` has finished.
    public func beginCheckpoint(_ stats: [EpochFigures], session: EditSession) throws -> PendingSafetensors {
        let estimate = try checkpointMetadata(stats + stats.suffix(1), session: session)
        return try PendingSafetensors(
            items: checkpointTensors(session).map { .tensor($0.0, $0.1) }, to: checkpointPath, estimate: estimate)
    }

    func checkpointTensors(_ session: EditSession) -> [(String, Tensor)] {
        var tensors: [(String, Tensor)] = []
        for p in session.trained {
            if p.entries != nil {
                tensors.append((p.name + ":entries", p.entryValues()))
            } else {
                tensors.append((p.name, p.value))
            }
            if let s = session.adam.states[p.name] {
                tensors.append(("adam_m." + p.name, s.m))
                tensors.append(("adam_v." + p.name, s.v))
            }
        }
        return tensors
    }

    func checkpointMetadata(_ stats: [EpochFigures], session: EditSession) throws -> [String: String] {
        var meta = [
            "fingerprint": fingerprint, "rng": String(session.rng.state),
            "records": String(decoding: try JSONEncoder().encode(stats), as: UTF8.self),
        ]
        meta["data"] = String(decoding: try JSONEncoder().encode(dataHashes), as: UTF8.self)
        if !session.methodState.isEmpty {
            meta["method_state"] = try MethodStateText.encode(session.methodState)
        }
        if let afterPrepare {
            meta["after_prepare"] = String(decoding: try JSONEncoder().encode(afterPrepare), as: UTF8.self)
        }
        for p in session.trained {
            if let s = session.adam.states[p.name] { meta["adam_t." + p.name] = String(s.t) }
        }
        return meta
    }

    func writeLog(_ stats: [EpochFigures]) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        var text = Data()
        for (i, s) in stats.enumerated() {
            var line = EpochRecord(s, epoch: i)
            line.schema_version = ResultsSchema.version
            text += try enc.encode(line) + Data("\n".utf8)
        }
        try AtomicFile.write(text, to: logPath)
    }

    /// The epoch records of a log file written by `record`.
    public static func readLog(_ path: String) throws -> [EpochFigures] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return try data.split(separator: UInt8(ascii: "\n")).map {
            try JSONDecoder().decode(EpochFigures.self, from: Data($0))
        }
    }

    /// Where `run --log-samples` keeps each epoch's per-example outcomes.
    public func samplesPath(epoch: Int) -> String { paths.samples(epoch: epoch) }

    public func writeSamples(_ samples: [Sample], epoch: Int) throws {
        let path = samplesPath(epoch: epoch)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(
            Data(try samples.map { String(decoding: try enc.encode($0), as: UTF8.self) + "\n" }.joined().utf8), to: path
        )
    }

    public static func readSamples(_ path: String) throws -> [Sample] {
        guard let data = MappedFile.contents(path) else { throw CanonEditError("\(path): cannot read") }
        return try data.split(separator: UInt8(ascii: "\n")).map {
            try JSONDecoder().decode(Sample.self, from: Data($0))
        }
    }

    /// "1.2 MB", "640 KB", "12 B".
    static func size(_ bytes: Int) -> String {
        let units: [(Double, String)] = [(1e9, "GB"), (1e6, "MB"), (1e3, "KB")]
        for (scale, unit) in units where Double(bytes) >= scale {
            return String(format: "%.1f ", Double(bytes) / scale) + unit
        }
        return "\(bytes) B"
    }

    /// Deletes the checkpoint (a finished run needs it no more; it can be as large as three
    /// copies of the trained tensors).
    public func removeCheckpoint() {
        try? FileManager.default.removeItem(atPath: checkpointPath)
    }

    /// The authors' results shape (the authors' `utils.py`), written to the results file; `error`
    /// records why a run ended early.
    @discardableResult
    public func finish(_ stats: [EpochFigures], error: String? = nil) throws -> RunResults {
        var results = RunResults(stats: stats, config: config, error: error)
        results.after_prepare = afterPrepare.map { EpochRecord($0) }
        (results.canonedit_version, results.model_path) = (version, modelPath)
        results.model_sha256 = try? ModelDigest.cachedSHA256(modelPath)
        try results.write(to: resultsPath)
        return results
    }
}
