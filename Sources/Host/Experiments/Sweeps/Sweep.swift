import Engine
import Foundation
import PluginHost
import Setting
import Support
import Yams

/// A random hyperparameter search (the authors' `make_sweep.py`): for each base config (a task ×
/// method), draw `runs` configurations — the learning rate and KL weight from the paper's ranges,
/// every sweepable plugin hyperparameter from its schema's sweep range — and write one config each.
public struct SweepSpec: Codable {
    public var name: String
    public var base_configs: [String]
    public var runs: Int
    public var seed: UInt64?
    public var epochs: Int?  // overrides num_epochs (short sweeps)
    public var output: String?  // default sweeps/<name>
    /// Learning-rate ranges per method as [low, high] exponents of 10 (default: the range the
    /// plugin declares, the paper's for the shipped methods, else [-6, -3]).
    public var learning_rate: [String: [Double]]?
    /// Test files by the validation files they replace in `select`'s test reruns, as the base
    /// configs write them (default: the authors' `-val` → `-test` rename, where that file exists).
    public var test_data: [String: String]?

    public var folder: String { output ?? "sweeps/\(name)" }

    /// Names that may go into file names and job names: letters, digits, `.`, `_`, `-`.
    public static func isSafeName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 64 && !s.hasPrefix("-") && !s.hasPrefix(".")
            && s.unicodeScalars.allSatisfy {
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "._-".unicodeScalars.contains($0))
            }
    }

    public static func load(_ path: String) throws -> SweepSpec {
        guard let text = MappedFile.contents(path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw CanonEditError("\(path): cannot read")
        }
        try YAMLBridge.checkLimits(text, path: path)
        let spec: SweepSpec
        do { spec = try YAMLDecoder().decode(SweepSpec.self, from: text) } catch let e as DecodingError {
            throw CanonEditError("\(path): \(ExperimentConfig.describe(e))")
        }
        try spec.validate(path)
        return spec
    }

    func validate(_ path: String) throws {
        guard Self.isSafeName(name) else {
            throw CanonEditError(
                "\(path): name \(name.debugDescription) may hold only letters, digits, '.', '_' and '-' (at most 64, "
                    + "not starting with '-' or '.'): it names files and Slurm jobs")
        }
        guard (1...100_000).contains(runs) else {
            throw CanonEditError("\(path): runs must be 1…100000, not \(runs)")
        }
        if let e = epochs, !(0...10_000).contains(e) { throw CanonEditError("\(path): epochs must be 0…10000") }
        guard !base_configs.isEmpty else { throw CanonEditError("\(path): base_configs is empty") }
        for (method, range) in learning_rate ?? [:] {
            guard range.count == 2, range.allSatisfy(\.isFinite), range[0] <= range[1] else {
                throw CanonEditError(
                    "\(path): learning_rate.\(method) must be [low, high] exponents of 10 with low ≤ high, "
                        + "not \(range)"
                )
            }
        }
    }
}

public enum SweepPlanner {
    /// One run of a sweep: the config written and where its results go.
    public struct Run: Codable {
        public var config: String
        public var results: String
        public var task: String
        public var method: String
    }

    /// The task of a config: its dataset folder's name (data/<task>/...), else the file's stem.
    public static func task(of c: ExperimentConfig) -> String {
        let parts = c.training.dataset_path.split(separator: "/")
        if let i = parts.firstIndex(where: { TaskKind.all.map(\.name).contains(String($0)) }) {
            return String(parts[i])
        }
        return parts.dropLast().last.map(String.init) ?? "task"
    }

    /// Each base config's run-name stem: task-method, with the base config's file name added
    /// when two base configs share a task and method (their runs would overwrite each other).
    static func runStems(_ basePaths: [String]) throws -> [String] {
        if let dup = Dictionary(grouping: basePaths, by: { $0 }).first(where: { $0.value.count > 1 }) {
            throw CanonEditError("base config \(dup.key) is listed twice")
        }
        let keys = try basePaths.map { p -> String in
            let c = try ExperimentConfig.load(p)
            return "\(task(of: c))-\(c.training.finetune_type)"
        }
        let stems = zip(basePaths, keys).map { path, key -> String in
            guard keys.filter({ $0 == key }).count > 1 else { return key }
            let file = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
            return key + "-"
                + String(file.unicodeScalars.map { SweepSpec.isSafeName(String($0)) ? Character($0) : "_" })
        }
        if let dup = Dictionary(grouping: stems, by: { $0 }).first(where: { $0.value.count > 1 }) {
            throw CanonEditError("two base configs would both write runs named \(dup.key)-N; rename one of the files")
        }
        return stems
    }

    /// Writes every run's config under <folder>/configs and returns the plan (deterministic in the seed).
    public static func plan(_ spec: SweepSpec, pluginPaths: [String] = []) throws -> [Run] {
        var rng = SeededRandom(seed: spec.seed ?? 876_545_987)
        var runs: [Run] = []
        try Folder.make(spec.folder + "/configs")
        try Folder.make(spec.folder + "/results")
        let stems = try runStems(spec.base_configs)
        for (basePath, stem) in zip(spec.base_configs, stems) {
            let base = try ExperimentConfig.load(basePath)
            let method = base.training.finetune_type
            let plugin = try PluginRegistry.find(method, extra: pluginPaths)
            let task = task(of: base)
            let lr =
                spec.learning_rate?[method] ?? plugin.learningRateSweep.map { [$0.lowerBound, $0.upperBound] }
                ?? [-6, -3]
            for i in 0..<spec.runs {
                var c = base
                c.training.learning_rate = pow(10, lr[0] + (lr[1] - lr[0]) * rng.nextDouble())
                c.training.regularization_weight = pow(10, -1 + rng.nextDouble())  // 10^U(−1, 0)
                if let e = spec.epochs { c.training.num_epochs = e }
                // Plugin hyperparameters from the schema's sweep ranges, into the block the base
                // config reads them from; options the schema clears would override swept ones.
                var options = c.methodOptions
                for h in plugin.schema where h.clearedInSweeps { options[h.name] = nil }
                for h in plugin.schema where !h.noSweep && (h.kind == .float || h.kind == .int) {
                    let u = rng.nextDouble()
                    var v =
                        h.logScale
                        ? exp(log(h.sweepMin) + (log(h.sweepMax) - log(h.sweepMin)) * u)
                        : h.sweepMin + (h.sweepMax - h.sweepMin) * u
                    if h.kind == .int { v = min(h.sweepMax, (v).rounded(.down)) }
                    options[h.name] = h.kind == .int ? .int(Int(v)) : .double(v)
                }
                c.methodOptions = options
                let (path, paths) = RunPaths.sweepRun(folder: spec.folder, name: "\(stem)-\(i)")
                let results = paths.results
                (c.logfile, c.resultsfile) = (paths.log, results)
                try AtomicFile.write(Data(try c.yamlText().utf8), to: path)
                runs.append(Run(config: path, results: results, task: task, method: method))
            }
        }
        try AtomicFile.write(try JSONEncoder().encode(runs), to: spec.folder + "/plan.json")
        return runs
    }
}
