import Foundation
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
        guard training.num_epochs >= 0, training.num_epochs <= 10_000 else { throw CanonEditError("\(path): training.num_epochs must be 0…10000") }
        guard training.learning_rate.isFinite, training.learning_rate >= 0 else { throw CanonEditError("\(path): training.learning_rate must be ≥ 0") }
        guard gradAccSteps >= 1 else { throw CanonEditError("\(path): training.grad_acc_steps must be ≥ 1") }
        if (training.batch_size ?? 1) != 1 {
            throw CanonEditError("\(path): training.batch_size \(training.batch_size!) — canonedit trains one example at a time, as every published config does (batch_size: 1)")
        }
        if let r = training.update_rule, !["authors", "accumulate"].contains(r) {
            throw CanonEditError("\(path): training.update_rule is \(r); use authors or accumulate")
        }
        if let t = training.regularization_type, t != "KL" {
            throw CanonEditError("\(path): training.regularization_type \(t) is not supported (KL; the authors' sweeps use only KL)")
        }
        if (training.suffix_pair ?? false) != training.loss_type.isPair {
            throw CanonEditError("\(path): loss_type \(training.loss_type.rawValue) needs suffix_pair: \(training.loss_type.isPair)")
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

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String { c.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") }
        switch e {
        case .keyNotFound(let k, let c): return "missing key \(path(c.codingPath + [k]))"
        case .typeMismatch(_, let c): return "\(path(c.codingPath)): \(c.debugDescription)"
        case .valueNotFound(_, let c): return "\(path(c.codingPath)) has no value"
        case .dataCorrupted(let c): return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }
}

/// A scalar, list or map from YAML, kept as written (plugin hyperparameters).
public enum YAMLValue: Codable, Equatable, CustomStringConvertible {
    case int(Int), double(Double), bool(Bool), string(String), list([YAMLValue]), map([String: YAMLValue]), null

    public init(from decoder: Swift.Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let v = try? c.decode(Int.self) { self = .int(v) }
        else if let v = try? c.decode(Double.self) { self = .double(v) }
        else if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode(String.self) { self = .string(v) }
        else if let v = try? c.decode([YAMLValue].self) { self = .list(v) }
        else { self = .map(try c.decode([String: YAMLValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .list(let v): try c.encode(v)
        case .map(let v): try c.encode(v)
        case .null: try c.encodeNil()
        }
    }

    public var double: Double? {
        switch self { case .int(let v): return Double(v); case .double(let v): return v; case .bool(let b): return b ? 1 : 0; default: return nil }
    }
    public var description: String {
        switch self {
        case .int(let v): return "\(v)"
        case .double(let v): return "\(v)"
        case .bool(let v): return "\(v)"
        case .string(let v): return v
        case .list(let v): return "[\(v.map(\.description).joined(separator: ", "))]"
        case .map(let v): return "{\(v.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}"
        case .null: return "null"
        }
    }
}
