import Engine
import Foundation
import Setting
import Support
import Yams

/// What `canonedit benchmark` compares: models × tasks × methods × the paper's three balls, on
/// data in the authors' layout, with a search budget per method and seeds for the test reruns.
/// Relative paths are resolved against the spec's folder (docs/benchmark.md).
public struct BenchmarkSpec: Codable {
    public var name: String
    /// A folder in the authors' layout: data/<task>/split/<file>-{val,test}.jsonl.
    public var data_root: String
    /// The general text of the degradation ball ({"text": …} per line) and the KL documents
    /// (none: no KL term).
    public var general: String
    public var kl: String?
    /// Built-in names, GGUF files or Hugging Face folders.
    public var models: [String]
    /// Default: the paper's six.
    public var tasks: [String]?
    /// Plugin ids; default: every plugin found.
    public var methods: [String]?
    /// Random configurations per model × task × method on the validation split, and epochs per run.
    public var points: Int
    public var epochs: Int
    /// Seeds of each selected configuration's test reruns (0..<seeds).
    public var seeds: Int
    /// The authors' update rule takes one example in every grad_acc_steps (their sweeps use 5).
    public var grad_acc_steps: Int?
    public var subsample: Subsample?
    /// Options fixed per method (the rest are drawn from the schema's sweep ranges).
    public var method_options: [String: [String: YAMLValue]]?
    /// Learning-rate ranges per method as [low, high] exponents of 10 (default: the plugin's).
    public var learning_rate: [String: [Double]]?
    /// How the best validation run is chosen: success (default) or improvement.
    public var rule: String?
    public var seed: UInt64?
    /// Default: benchmarks/<name> beside the spec.
    public var output: String?

    /// At most this many records of each file (chosen with `seed`, kept in file order).
    public struct Subsample: Codable {
        public var train: Int?, eval: Int?, hard_negative: Int?, unconditional: Int?, general: Int?, kl: Int?
        public var seed: UInt64?
    }

    /// The spec's folder, against which its relative paths resolve.
    public var folder = "."

    enum CodingKeys: String, CodingKey {
        case name, data_root, general, kl, models, tasks, methods, points, epochs, seeds, grad_acc_steps
        case subsample, method_options, learning_rate, rule, seed, output
    }

    public func resolve(_ path: String) -> String {
        ((path.hasPrefix("/") ? path : (folder as NSString).appendingPathComponent(path)) as NSString).standardizingPath
    }
    public var outputFolder: String { resolve(output ?? "benchmarks/\(name)") }
    public var taskNames: [String] { tasks ?? TaskKind.all.map(\.name) }

    public static func load(_ path: String) throws -> BenchmarkSpec {
        guard let text = MappedFile.contents(path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw CanonEditError("\(path): cannot read the benchmark spec")
        }
        try YAMLBridge.checkLimits(text, path: path)
        var spec: BenchmarkSpec
        do { spec = try YAMLDecoder().decode(BenchmarkSpec.self, from: text) } catch let e as DecodingError {
            throw CanonEditError("\(path): \(ExperimentConfig.describe(e))")
        } catch {
            throw CanonEditError("\(path): not valid YAML (\(error))")
        }
        try Self.checkKeys(text, path: path)
        // Absolute, so that configs written from it work from any folder (a Slurm job's too).
        let dir = (path as NSString).deletingLastPathComponent
        spec.folder =
            dir.hasPrefix("/")
            ? dir : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(dir)
        try spec.validate(path)
        return spec
    }

    /// Unknown keys are errors naming the line, as in experiment configs.
    static func checkKeys(_ text: String, path: String) throws {
        guard let root = try? Yams.compose(yaml: text), let map = root.mapping else { return }
        let known = Set(CodingKeys.allKeys)
        for (k, _) in map {
            guard let key = k.string, !known.contains(key) else { continue }
            let line = k.mark.map { ":\($0.line)" } ?? ""
            throw CanonEditError(
                "\(path)\(line): unknown key \(key) (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    func validate(_ path: String) throws {
        func bad(_ what: String) -> CanonEditError { CanonEditError("\(path): \(what)") }
        guard SweepSpec.isSafeName(name) else {
            throw bad("name \(name.debugDescription) may hold only letters, digits, '.', '_', '-'")
        }
        guard !models.isEmpty else { throw bad("models is empty") }
        guard (1...10_000).contains(points) else { throw bad("points must be 1…10000, not \(points)") }
        guard (1...10_000).contains(epochs) else { throw bad("epochs must be 1…10000, not \(epochs)") }
        guard (1...100).contains(seeds) else { throw bad("seeds must be 1…100, not \(seeds)") }
        if let g = grad_acc_steps, !(1...1000).contains(g) { throw bad("grad_acc_steps must be 1…1000, not \(g)") }
        for t in taskNames where !TaskKind.all.contains(where: { $0.name == t }) {
            throw bad("task \(t) is not one of \(TaskKind.all.map(\.name).joined(separator: ", "))")
        }
        if let r = rule, SweepSelect.Rule(rawValue: r) == nil { throw bad("rule must be success or improvement") }
        for (m, lr) in learning_rate ?? [:] where lr.count != 2 || lr[0] > lr[1] {
            throw bad("learning_rate.\(m) must be [low, high] exponents of 10")
        }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: resolve(data_root), isDirectory: &isDir), isDir.boolValue else {
            throw bad("data_root \(resolve(data_root)) is not a folder")
        }
    }
}

extension BenchmarkSpec.CodingKeys: CaseIterable {
    static var allKeys: [String] { allCases.map(\.rawValue) }
}
