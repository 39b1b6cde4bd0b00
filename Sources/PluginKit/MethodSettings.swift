// Settings several shipped methods share: LoRA's centred block of layers and adapters, and Adam.
import PluginAPI

/// Layers start…end (inclusive) for fraction p of L layers, as the authors' sweeps compute them:
/// c = ⌈L·p⌉ layers around L/2, giving c+1 indices (ones ≥ L match nothing).
public func centredBlock(layers L: Int, fraction p: Double) -> ClosedRange<Int> {
    let mid = L / 2, c = Int((Double(L) * p).rounded(.up))
    return c % 2 == 0 ? (mid - c / 2)...(mid + c / 2) : (mid - c / 2)...(mid + c / 2 + 1)
}

/// The MLP up/down projections of the given layers, as a regex over module names of every
/// supported family.
public func mlpProjections(_ layers: ClosedRange<Int>) -> String {
    ".*\\.(" + layers.map(String.init).joined(separator: "|")
        + ")\\.mlp\\.(up_proj|down_proj|c_fc|c_proj|dense_h_to_4h|dense_4h_to_h|fc_in|fc_out)"
}

/// Attaches rank-r adapters (A ~ U(−1/√in, 1/√in), B = 0, scale alpha/r, as PEFT) to every
/// module matching `pattern`; returns their A and B handles.
public func attachLoRA(_ host: Host, pattern: String, rank: Int, alpha: Double) throws -> [OpaquePointer] {
    var out: [OpaquePointer] = []
    for i in 0..<host.moduleCount where try host.matches(host.moduleName(i), pattern) {
        let (A, B) = try host.attachLowRank(host.moduleName(i), rank: rank, scale: Float(alpha / Double(rank)))
        let a = try host.value(of: A)
        let bound = 1 / Double(a.shape.1).squareRoot()
        for j in 0..<Int(a.count) { a.data[j] = Float((2 * host.uniform() - 1) * bound) }
        out += [A, B]
    }
    if out.isEmpty { throw PluginError(CE_ERR_INVALID_ARGUMENT, "target_modules \(pattern) matched no module") }
    return out
}

/// Adam settings as hyperparameters (beta1, beta2 — the authors' 0.995 — and eps), and the
/// host's Adam step with them.
public struct AdamSettings {
    public var beta1 = 0.9, beta2 = 0.995, eps = 1e-8, weightDecay = 0.0

    public static let schema: [ce_hyperparameter] = [
        hyperparameter("beta1", CE_HP_FLOAT, min: 0, max: 0.9999, default: 0.9, noSweep: true, help: "Adam beta1"),
        hyperparameter(
            "beta2", CE_HP_FLOAT, min: 0, max: 0.99999, default: 0.995, noSweep: true,
            help: "Adam beta2 (the authors' 0.995)"),
        hyperparameter("eps", CE_HP_FLOAT, min: 1e-12, max: 1e-3, default: 1e-8, noSweep: true, help: "Adam epsilon"),
    ]

    public init() {}
    public init(_ host: Host) throws {
        beta1 = try host.number("beta1")
        beta2 = try host.number("beta2")
        eps = try host.number("eps")
    }

    /// One step on each tensor with the scheduled learning rate.
    public func step(_ host: Host, _ params: [OpaquePointer], info: UnsafePointer<ce_update_info>?) throws {
        for p in params {
            try host.adamStep(
                p, lr: info!.pointee.learning_rate, beta1: beta1, beta2: beta2, eps: eps, weightDecay: weightDecay)
        }
    }
}

/// Low-rank adapter settings shared by the plugins that train adapters (LoRA, CondFT): the
/// authors' names, and attaching adapters as those settings say.
public enum LowRankSettings {
    public static let schema: [ce_hyperparameter] = [
        hyperparameter("lora_rank", CE_HP_INT, min: 1, max: 4096, default: 8, sweep: 1...256, help: "adapter rank r"),
        hyperparameter(
            "lora_alpha", CE_HP_FLOAT, min: 0, max: 1e6, default: 8, noSweep: true,
            help: "adapter output is scaled by alpha / r"),
        hyperparameter(
            "target_modules", CE_HP_STRING, defaultString: "", noSweep: true, clearedInSweeps: true,
            help: "regex over module names (Python fullmatch); empty: MLP up/down projections of the centred block"),
        hyperparameter(
            "layer_fraction", CE_HP_FLOAT, min: 0.01, max: 1, default: 0.5, sweep: 0.1...0.9,
            help: "fraction p of layers in the centred block, used when target_modules is empty"),
    ]

    /// Reports the adapters `attach` will make. A sequential run folds them into the weights
    /// they adapt after each edit: any linear module's weight, since an edit file does not
    /// record the options it was made with.
    public static func describe(_ o: Outline) throws {
        var pattern = try o.string("target_modules")
        if pattern.isEmpty {
            pattern = mlpProjections(
                centredBlock(layers: Int(try o.modelInfo().layer_count), fraction: try o.number("layer_fraction")))
        }
        let rank = Int(try o.number("lora_rank")), modules = o.modules
        var folded = 0
        for m in modules where try o.matches(m.name, pattern) {
            try o.willAttachLowRank(m.name, rank: rank)
            folded += m.in * m.out
        }
        if o.sequential {
            try o.willHold(folded * 8, "adapted weights the edits are folded into, with originals")
            try o.mayChange("(" + modules.map { literal($0.name) }.joined(separator: "|") + ")\\.weight")
        }
    }

    /// Attaches the adapters the options describe; returns their A and B handles and the pattern used.
    public static func attach(_ host: Host) throws -> (params: [OpaquePointer], pattern: String) {
        var pattern = try host.string("target_modules")
        if pattern.isEmpty {
            pattern = mlpProjections(
                centredBlock(layers: Int(try host.modelInfo().layer_count), fraction: try host.number("layer_fraction"))
            )
        }
        return (
            try attachLoRA(
                host, pattern: pattern, rank: Int(try host.number("lora_rank")), alpha: try host.number("lora_alpha")),
            pattern
        )
    }
}
