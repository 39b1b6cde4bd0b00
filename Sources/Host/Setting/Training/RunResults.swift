import Engine
import Foundation
import Support

/// One epoch's figures as the results file and the epoch log record them: the figures, the
/// success rate beside the authors' failure rate, and where it applies the epoch's index (a
/// ball's row in the results) or number (a line of the log).
public struct EpochRecord: Codable, Equatable {
    public var figures: EpochFigures
    public var success: Double
    public var index: Int?
    public var epoch: Int?
    /// Set on epoch-log lines (docs/results.md).
    public var schema_version: String?

    public init(_ figures: EpochFigures, index: Int? = nil, epoch: Int? = nil) {
        self.figures = figures
        success = figures.success
        self.index = index
        self.epoch = epoch
    }

    enum Keys: String, CodingKey { case success, index, epoch, schema_version }

    public init(from decoder: Decoder) throws {
        figures = try EpochFigures(from: decoder)
        let c = try decoder.container(keyedBy: Keys.self)
        success = try c.decodeIfPresent(Double.self, forKey: .success) ?? figures.success
        index = try c.decodeIfPresent(Int.self, forKey: .index)
        epoch = try c.decodeIfPresent(Int.self, forKey: .epoch)
        schema_version = try c.decodeIfPresent(String.self, forKey: .schema_version)
    }

    /// Flat, as the authors write it: the figures' keys beside success and index.
    public func encode(to encoder: Encoder) throws {
        try figures.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(success, forKey: .success)
        try c.encodeIfPresent(index, forKey: .index)
        try c.encodeIfPresent(epoch, forKey: .epoch)
        try c.encodeIfPresent(schema_version, forKey: .schema_version)
    }
}

/// The version of every JSON document canonedit writes about results: the epoch log's lines,
/// results files, ensemble results and sweep reports (docs/results.md).
public enum ResultsSchema {
    public static let version = "canonedit.results/1"
}

/// A run's results file in the authors' shape (the authors' `utils.py`): `test` holds
/// `initial_eval` and, under each ball's key ("0.001", "0.0001", "1e-05"), the last epoch inside
/// that ball; then the config, the epochs completed, and why the run ended early if it did.
public struct RunResults: Codable {
    /// The version of canonedit's results schema (docs/results.md); absent in older files.
    public var schema_version: String? = ResultsSchema.version
    public var test: [String: EpochRecord]
    public var config: ExperimentConfig
    public var epochs_completed: Int
    public var error: String?
    /// canonedit: the model after the method's prepare, when prepare alone changed it (epoch 0,
    /// the reference of every ball, is the model before any method code ran).
    public var after_prepare: EpochRecord?
    /// canonedit: the version that wrote the file, and the model as stored (ModelDigest).
    public var canonedit_version: String?
    public var model_path: String?, model_sha256: String?

    public static let initialKey = "initial_eval"

    /// From the epoch figures (index 0 = unedited), deciding each of the paper's balls.
    public init(stats: [EpochFigures], config: ExperimentConfig, error: String?) {
        var test = [Self.initialKey: EpochRecord(stats[0])]
        let general = stats.map(\.general)
        for ball in Ball.paper {
            let i = ball.lastEpochInside(general)
            test[ball.key] = EpochRecord(stats[i], index: i)
        }
        self.test = test
        self.config = config
        epochs_completed = stats.count - 1
        self.error = error
    }

    public var initial: EpochRecord? { test[Self.initialKey] }
    public func at(_ ball: Ball) -> EpochRecord? { test[ball.key] }

    public static func read(_ path: String) throws -> RunResults {
        guard let data = MappedFile.contents(path) else { throw CanonEditError("\(path): cannot read") }
        do { return try JSONDecoder().decode(RunResults.self, from: data) } catch {
            throw CanonEditError("\(path): not a results file (\(error))")
        }
    }

    public func write(to path: String) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(try enc.encode(self), to: path)
    }
}
