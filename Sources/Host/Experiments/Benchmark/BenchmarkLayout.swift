import Engine
import Foundation
import PluginHost
import Setting
import Support

/// Where a benchmark keeps everything, under its output folder:
///
///     data/<task>/<stem>-{val,test}.jsonl, data/general.jsonl, data/kl.jsonl   (subsampled copies)
///     <model>/base/<task>-<method>.yaml      the validation config each search starts from
///     <model>/configs, results, select.json, test/...   the sweep machinery's files
///     manifest.json, benchmark.{md,csv,json,tex}, figures/
public struct BenchmarkLayout {
    public let spec: BenchmarkSpec
    public var root: String { spec.outputFolder }
    public var data: String { root + "/data" }

    public init(spec: BenchmarkSpec) { self.spec = spec }

    /// A model's folder name: a built-in name, or its file's or folder's name without extension.
    public static func modelName(_ model: String) -> String {
        let base = ((model as NSString).lastPathComponent as NSString).deletingPathExtension
        let safe = String(base.unicodeScalars.map { SweepSpec.isSafeName(String($0)) ? Character($0) : "_" })
        return safe.isEmpty || safe.hasPrefix(".") || safe.hasPrefix("-") ? "model" + safe : safe
    }

    public func modelFolder(_ model: String) -> String { root + "/" + Self.modelName(model) }
    public func baseConfig(_ model: String, task: String, method: String) -> String {
        modelFolder(model) + "/base/\(task)-\(method).yaml"
    }
    public func taskFile(_ task: String, _ stem: String, split: String) -> String {
        data + "/\(task)/\(stem)-\(split).jsonl"
    }
    public var general: String { data + "/general.jsonl" }
    public var kl: String { data + "/kl.jsonl" }

    /// Copies the spec's data into the benchmark's folder, subsampled, and returns each source's
    /// SHA-256 by the path it was read from. The same spec writes the same files.
    public func prepareData() throws -> [String: String] {
        let s = spec.subsample, seed = s?.seed ?? 0
        var sources: [String: String] = [:]
        func copy(_ from: String, _ to: String, _ limit: Int?, salt: String) throws {
            var h = FNV1a()
            h.add(bytes: salt.utf8)
            sources[from] = try AuthorsLayout.copy(from, to: to, limit: limit, seed: seed &+ h.value)
        }
        let root = spec.resolve(spec.data_root)
        for task in spec.taskNames {
            let f = AuthorsLayout.files[task]!
            for split in ["val", "test"] {
                for (stem, limit) in [
                    (f.train, s?.train), (f.eval, s?.eval), (f.hardNegative, s?.hard_negative),
                    (f.unconditional, s?.unconditional),
                ] {
                    let from = AuthorsLayout.path(root: root, task: task, stem: stem, split: split)
                    try copy(from, taskFile(task, stem, split: split), limit, salt: "\(stem)-\(split)")
                }
            }
        }
        try copy(spec.resolve(spec.general), general, s?.general, salt: "general")
        if let kl = spec.kl { try copy(spec.resolve(kl), self.kl, s?.kl, salt: "kl") }
        return sources
    }

    /// The validation config a search starts from: the task's loss, threshold and split files,
    /// the method's fixed options, the spec's epochs; learning rate and KL weight are drawn later.
    public func writeBaseConfig(model: String, task: String, method: String) throws -> String {
        let kind = try TaskKind.named(task), f = AuthorsLayout.files[task]!
        // An option naming a file beside the spec (a key-statistics corpus) is written as its full path.
        let options = (spec.method_options?[method] ?? [:]).mapValues { v -> YAMLValue in
            guard case .string(let s) = v, !s.isEmpty, FileManager.default.fileExists(atPath: spec.resolve(s)) else {
                return v
            }
            return .string(spec.resolve(s))
        }
        func q(_ s: String) -> String { YAMLValue.string(s).yamlInline }
        var lines = [
            "# Written by canonedit benchmark \(spec.name): \(task) with \(method) on \(model) (validation split).",
            "model: \(q(spec.resolveModel(model)))", "threshold: \(kind.threshold)", "seed: 0", "training:",
            "  dataset_path: \(q(taskFile(task, f.train, split: "val")))", "  finetune_type: \(q(method))",
            "  learning_rate: 0.0001", "  loss_type: \(kind.loss.rawValue)", "  num_epochs: \(spec.epochs)",
            "  batch_size: 1", "  grad_acc_steps: \(spec.grad_acc_steps ?? 5)", "  suffix_pair: \(kind.loss.isPair)",
            // Tables need the logs, not the edits (a full-finetuning edit of SmolLM2 is 538 MB a ball).
            "  save_edits: false",
        ]
        if spec.kl != nil {
            lines += [
                "  regularization_type: KL", "  regularization_data_path: \(q(kl))", "  regularization_weight: 0.5",
            ]
        }
        lines += ["  method:" + (options.isEmpty ? " {}" : "")]
        lines += options.keys.sorted().map { "    \($0): \(options[$0]!.yamlInline)" }
        lines += [
            "validation:", "  intervention_eval_path: \(q(taskFile(task, f.eval, split: "val")))",
            "  degredation_general_path: \(q(general))",
            "  degredation_targeted_path: \(q(taskFile(task, f.unconditional, split: "val")))",
            "  eval_normalization: example", "  hard_negative:",
            "    hard_negative_path: \(q(taskFile(task, f.hardNegative, split: "val")))", "    eval_type: suffix",
        ]
        let text = lines.joined(separator: "\n") + "\n"
        let path = baseConfig(model, task: task, method: method)
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        // The method's options go where its config reads them (the authors' training.lora, senses).
        var c = try ExperimentConfig.parse(text, path: path)
        let opts = c.training.method ?? [:]
        c.training.method = nil
        c.methodOptions = opts
        try AtomicFile.write(Data(try c.yamlText().utf8), to: path)
        return path
    }
}

extension BenchmarkSpec {
    /// A model named by a path relative to the spec resolves against the spec's folder; a
    /// built-in name or Hugging Face id stays as it is.
    public func resolveModel(_ model: String) -> String {
        let p = resolve(model)
        return FileManager.default.fileExists(atPath: p) ? p : model
    }
}
