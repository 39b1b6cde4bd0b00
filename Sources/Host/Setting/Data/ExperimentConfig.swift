import Engine
import Foundation
import Support
import Yams

/// An experiment as the authors' YAML configs describe it (the authors' `ft_experiment.py`,
/// `trainer.py` and `make_sweep.py`), read unchanged. Keys the authors' code ignores (`device`) are
/// accepted; canonedit's own additions are optional and listed in docs/configs.md.
public struct ExperimentConfig: Codable {
    public var model: String
    public var threshold: Double?
    public var seed: Int?
    public var logfile: String?
    public var resultsfile: String?
    public var device: String?
    public var training: Training
    public var validation: Validation
    public var senses: [String: YAMLValue]?
    /// canonedit: sequential editing, `edits_per_step` canonical examples at a time.
    public var sequential: Sequential?

    public struct Sequential: Codable {
        public var edits_per_step: Int
    }

    public struct Training: Codable {
        public var dataset_path: String
        public var finetune_type: String
        public var learning_rate: Double
        public var loss_type: LossType
        public var num_epochs: Int
        public var batch_size: Int?
        public var grad_acc_steps: Int?
        public var suffix_pair: Bool?
        public var regularization_type: String?
        public var regularization_data_path: String?
        public var regularization_weight: Double?
        public var lora: [String: YAMLValue]?
        /// canonedit: `authors` (default; one example's gradient per step, the authors' `trainer.py`) or
        /// `accumulate` (true gradient accumulation over grad_acc_steps examples).
        public var update_rule: String?
        /// canonedit: plugin hyperparameters for methods other than LoRA and senses.
        public var method: [String: YAMLValue]?
        /// canonedit: save the edit for each ball (default: when it holds at most 16M numbers).
        public var save_edits: Bool?
        /// canonedit: how whole changed tensors are stored in edit files: f32 (default) or f16.
        public var edit_dtype: String?
    }

    public struct Validation: Codable {
        public var intervention_eval_path: String
        public var degredation_general_path: String
        public var degredation_targeted_path: String?
        public var eval_normalization: String?
        public var hard_negative: HardNegative?
    }

    public struct HardNegative: Codable {
        public var hard_negative_path: String
        public var eval_type: String?
    }

    public var gradAccSteps: Int { training.grad_acc_steps ?? 1 }
    public var batchSize: Int { training.batch_size ?? 1 }
    public var accumulate: Bool { training.update_rule == "accumulate" }

    public static func load(_ path: String) throws -> ExperimentConfig { try loadChecked(path).config }

    /// The config, and one warning for each key of the authors' schema that canonedit reads but
    /// ignores or fills in. Unknown keys and values of the wrong type are errors naming the line.
    public static func loadChecked(_ path: String) throws -> (config: ExperimentConfig, warnings: [String]) {
        guard let text = MappedFile.contents(path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw CanonEditError("\(path): cannot read the config")
        }
        try YAMLBridge.checkLimits(text, path: path)
        var cfg: ExperimentConfig
        do { cfg = try YAMLDecoder().decode(ExperimentConfig.self, from: text) } catch let e as DecodingError {
            let keys = codingPath(e).map { $0.intValue.map(String.init) ?? $0.stringValue }
            let line = ConfigKeys.line(of: keys, in: text).map { ":\($0)" } ?? ""
            throw CanonEditError("\(path)\(line): \(describe(e))")
        } catch {
            throw CanonEditError("\(path): not valid YAML (\(error))")
        }
        var warnings = try ConfigKeys.check(text, path: path)
        try cfg.validate(path, text: text)
        warnings += cfg.fillIn(path)
        return (cfg, warnings)
    }

    /// What the authors' code does with keys that are present but unused, and a missing
    /// threshold: filled in or ignored here, each with a warning.
    mutating func fillIn(_ path: String) -> [String] {
        var warnings: [String] = []
        if threshold == nil, let task = TaskKind.of(datasetPath: training.dataset_path) {
            threshold = task.threshold
            warnings.append("\(path): no threshold; using the \(task.name) task's \(task.threshold)")
        }
        if let w = training.regularization_weight, w != 0, training.regularization_data_path == nil {
            warnings.append(
                "\(path): training.regularization_weight is \(w) but there is no regularization_data_path: "
                    + "no KL term is used")
        }
        let used = optionBlock
        for (block, value) in optionBlocks where value != nil && block != used {
            warnings.append(
                "\(path): \(block) is ignored: finetune_type \(training.finetune_type) reads its options from \(used)")
        }
        return warnings
    }

    static func codingPath(_ e: DecodingError) -> [CodingKey] {
        switch e {
        case .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return c.codingPath
        @unknown default: return []
        }
    }

    /// Values that decode but make no sense; each error names the file, the line of the key
    /// (when `text` is the config's text) and the key.
    func validate(_ path: String, text: String? = nil) throws {
        func bad(_ key: String, _ problem: String) -> CanonEditError {
            let line = text.flatMap { ConfigKeys.line(of: key.split(separator: ".").map(String.init), in: $0) }
            return CanonEditError("\(path)\(line.map { ":\($0)" } ?? ""): \(key) \(problem)")
        }
        guard training.num_epochs >= 0, training.num_epochs <= 10_000 else {
            throw bad("training.num_epochs", "must be 0…10000")
        }
        guard training.learning_rate.isFinite, training.learning_rate >= 0 else {
            throw bad("training.learning_rate", "must be ≥ 0")
        }
        if let w = training.regularization_weight, !(w.isFinite && w >= 0) {
            throw bad("training.regularization_weight", "must be a number ≥ 0, not \(w)")
        }
        if let t = threshold, !t.isFinite { throw bad("threshold", "must be a finite number, not \(t)") }
        if let s = seed, s < 0 { throw bad("seed", "must be ≥ 0, not \(s)") }
        if let k = sequential?.edits_per_step, !(1...100_000).contains(k) {
            throw bad("sequential.edits_per_step", "must be 1…100000, not \(k)")
        }
        guard gradAccSteps >= 1 else { throw bad("training.grad_acc_steps", "must be ≥ 1, not \(gradAccSteps)") }
        guard (1...4096).contains(batchSize) else {
            throw bad("training.batch_size", "must be 1…4096, not \(batchSize)")
        }
        if let n = validation.eval_normalization, n != "example" {
            throw bad(
                "validation.eval_normalization", "\(n) is not supported (example, as in every published config)")
        }
        if let d = training.edit_dtype, !["f32", "f16"].contains(d) {
            throw bad("training.edit_dtype", "is \(d); use f32 or f16")
        }
        if let r = training.update_rule, !["authors", "accumulate"].contains(r) {
            throw bad("training.update_rule", "is \(r); use authors or accumulate")
        }
        if let t = training.regularization_type, t != "KL" {
            throw bad("training.regularization_type", "\(t) is not supported (KL; the authors' sweeps use only KL)")
        }
        if (training.suffix_pair ?? false) != training.loss_type.isPair {
            throw bad(
                "training.loss_type",
                "\(training.loss_type.rawValue) needs suffix_pair: \(training.loss_type.isPair)")
        }
        if let t = validation.hard_negative?.eval_type, !["suffix", "unconditional"].contains(t) {
            throw bad("validation.hard_negative.eval_type", "must be suffix or unconditional")
        }
    }

    /// Where the method's hyperparameters are: the authors' block named after the method when
    /// their schema has one (`training.<finetune_type>`, or `<finetune_type>` at the top level),
    /// else `training.method`.
    public var optionBlock: String {
        let id = training.finetune_type
        if ConfigKeys.known["training"]!.contains(id) && ConfigKeys.pluginBlocks.contains("training." + id) {
            return "training." + id
        }
        if ConfigKeys.known[""]!.contains(id) && ConfigKeys.pluginBlocks.contains(id) { return id }
        return "training.method"
    }

    /// The blocks of plugin hyperparameters the schema has, by key.
    var optionBlocks: [(key: String, value: [String: YAMLValue]?)] {
        [("training.lora", training.lora), ("senses", senses), ("training.method", training.method)]
    }

    /// The plugin's hyperparameters, in `optionBlock`.
    public var methodOptions: [String: YAMLValue] {
        get { optionBlocks.first { $0.key == optionBlock }?.value ?? [:] }
        set {
            switch optionBlock {
            case "training.method": training.method = newValue
            case "training.lora": training.lora = newValue
            default: senses = newValue
            }
        }
    }


    public static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String {
            c.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch e {
        case .keyNotFound(let k, let c): return "missing key \(path(c.codingPath + [k]))"
        case .typeMismatch(_, let c): return "\(path(c.codingPath)): \(c.debugDescription)"
        case .valueNotFound(_, let c): return "\(path(c.codingPath)) has no value"
        case .dataCorrupted(let c): return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}
