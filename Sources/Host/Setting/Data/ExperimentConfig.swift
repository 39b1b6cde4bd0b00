import Engine
import Foundation
import Support
import Yams

/// An experiment as the authors' YAML configs describe it (spec §2, §3, §7), read unchanged.
/// Keys the authors' code ignores (`device`) are accepted; canonedit's own additions are
/// optional and listed in docs/configs.md.
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
        /// canonedit: `authors` (default; one example's gradient per step, spec §3.3) or
        /// `accumulate` (true gradient accumulation over grad_acc_steps examples).
        public var update_rule: String?
        /// canonedit: plugin hyperparameters for methods other than LoRA and senses.
        public var method: [String: YAMLValue]?
        /// canonedit: save the edit for each ball (default: when it holds at most 16M numbers).
        public var save_edits: Bool?
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
    public var accumulate: Bool { training.update_rule == "accumulate" }

    public static func load(_ path: String) throws -> ExperimentConfig {
        guard let text = MappedFile.contents(path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw CanonEditError("\(path): cannot read the config")
        }
        var cfg: ExperimentConfig
        do { cfg = try YAMLDecoder().decode(ExperimentConfig.self, from: text) } catch let e as DecodingError {
            throw CanonEditError("\(path): \(describe(e))")
        } catch {
            throw CanonEditError("\(path): not valid YAML (\(error))")
        }
        try cfg.validate(path)
        return cfg
    }

    func validate(_ path: String) throws {
        guard training.num_epochs >= 0, training.num_epochs <= 10_000 else {
            throw CanonEditError("\(path): training.num_epochs must be 0…10000")
        }
        guard training.learning_rate.isFinite, training.learning_rate >= 0 else {
            throw CanonEditError("\(path): training.learning_rate must be ≥ 0")
        }
        guard gradAccSteps >= 1 else { throw CanonEditError("\(path): training.grad_acc_steps must be ≥ 1") }
        if (training.batch_size ?? 1) != 1 {
            throw CanonEditError(
                "\(path): training.batch_size \(training.batch_size!) — canonedit trains one example at a time, as "
                    + "every published config does (batch_size: 1)"
            )
        }
        if let r = training.update_rule, !["authors", "accumulate"].contains(r) {
            throw CanonEditError("\(path): training.update_rule is \(r); use authors or accumulate")
        }
        if let t = training.regularization_type, t != "KL" {
            throw CanonEditError(
                "\(path): training.regularization_type \(t) is not supported (KL; the authors' sweeps use only KL)")
        }
        if (training.suffix_pair ?? false) != training.loss_type.isPair {
            throw CanonEditError(
                "\(path): loss_type \(training.loss_type.rawValue) needs suffix_pair: \(training.loss_type.isPair)")
        }
        if let t = validation.hard_negative?.eval_type, !["suffix", "unconditional"].contains(t) {
            throw CanonEditError("\(path): validation.hard_negative.eval_type must be suffix or unconditional")
        }
    }

    /// The plugin's hyperparameters: `training.lora` for LoRA, top-level `senses` for sense
    /// finetuning, `training.method` for anything else.
    public var methodOptions: [String: YAMLValue] {
        switch training.finetune_type {
        case "lora": return training.lora ?? [:]
        case "senses": return senses ?? [:]
        default: return training.method ?? [:]
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
