import Foundation

/// Every file a run writes, named from its log and results paths: the checkpoint and the
/// per-epoch samples beside the log, the edits, ball samples and trade-off figure beside the
/// results (`<stem>` is the results path without `.json` and `.results`).
public struct RunPaths: Equatable {
    public let log: String
    public let results: String

    public init(log: String, results: String) { (self.log, self.results) = (log, results) }

    /// The results path without its `.results.json` ending.
    public var stem: String {
        var stem = results
        for suffix in [".json", ".results"] where stem.hasSuffix(suffix) { stem = String(stem.dropLast(suffix.count)) }
        return stem
    }

    public var checkpoint: String { log + ".ckpt.safetensors" }
    /// The edit certified for `ball`: `<stem>.edit-<ε>.safetensors`.
    public func edit(_ ball: Ball) -> String { stem + ".edit-\(ball.key).safetensors" }
    /// One epoch's per-example outcomes (`run --log-samples`).
    public func samples(epoch: Int) -> String { log + ".samples/epoch-\(epoch).jsonl" }
    /// The outcomes of the epoch `ball` certifies: `<stem>.samples-<ε>.jsonl`.
    public func samples(_ ball: Ball) -> String { stem + ".samples-\(ball.key).jsonl" }
    /// Success against the general-loss change per epoch (SVG; PDF and PNG beside it).
    public var tradeoff: String { stem + ".tradeoff.svg" }
}

extension RunPaths {
    /// Run `name` of a sweep folder (or its `test/` folder): the config it is written to, in
    /// `<folder>/configs`, and its log and results in `<folder>/results`.
    public static func sweepRun(folder: String, name: String) -> (config: String, paths: RunPaths) {
        let out = folder + "/results/" + name
        return (folder + "/configs/\(name).yaml", RunPaths(log: out + ".log.jsonl", results: out + ".results.json"))
    }

    /// The paths of the sweep run whose config a sweep wrote at `config`.
    public static func sweepRun(config: String) -> RunPaths {
        let folder = ((config as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        let name = ((config as NSString).lastPathComponent as NSString).deletingPathExtension
        return sweepRun(folder: folder, name: name).paths
    }
}
