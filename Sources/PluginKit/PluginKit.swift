// PluginKit: Swift conveniences over canonedit_plugin.h for plugins written in Swift.
// It is linked statically into each plugin, so it must hold no state: everything shared
// lives in the host and is reached through the ce_host table.
import PluginAPI

/// A NUL-terminated C string for a literal (static storage, never freed).
public func cString(_ s: StaticString) -> UnsafePointer<CChar> {
    UnsafeRawPointer(s.utf8Start).assumingMemoryBound(to: CChar.self)
}

/// One schema entry. `sweep` is the range random sweeps draw from.
public func hyperparameter(
    _ name: StaticString, _ type: Int32, min: Double = 0, max: Double = 0, default value: Double = 0,
    defaultString: StaticString? = nil, sweep: ClosedRange<Double>? = nil, logScale: Bool = false,
    noSweep: Bool = false, clearedInSweeps: Bool = false, help: StaticString
) -> ce_hyperparameter {
    var h = ce_hyperparameter()
    h.name = cString(name)
    h.type = type
    h.flags =
        (logScale ? UInt32(CE_HP_LOG_SCALE) : 0) | (noSweep ? UInt32(CE_HP_NO_SWEEP) : 0)
        | (clearedInSweeps ? UInt32(CE_HP_CLEARED_IN_SWEEPS) : 0)
    h.min = min
    h.max = max
    h.default_number = value
    h.default_string = defaultString.map(cString)
    h.sweep_min = sweep?.lowerBound ?? min
    h.sweep_max = sweep?.upperBound ?? max
    h.help = cString(help)
    return h
}

/// A descriptor that lives as long as the library (allocated once, never freed).
public func makeDescriptor(
    id: StaticString, version: StaticString, description: StaticString, capabilities: UInt64,
    hyperparameters: [ce_hyperparameter],
    create:
        @escaping @convention(c) (
            UnsafePointer<ce_host>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        ) -> ce_status,
    prepare: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<ce_host>?) -> ce_status)?,
    update: (
        @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<ce_host>?, UnsafePointer<ce_update_info>?) -> ce_status
    )?,
    apply: (@convention(c) (UnsafeMutableRawPointer?, UnsafePointer<ce_host>?) -> ce_status)? = nil,
    destroy: @escaping @convention(c) (UnsafeMutableRawPointer?) -> Void,
    describe: (@convention(c) (UnsafePointer<ce_outline>?) -> ce_status)? = nil,
    learningRateSweep: ClosedRange<Double>? = nil
) -> UnsafePointer<ce_plugin_descriptor> {
    let table = UnsafeMutablePointer<ce_hyperparameter>.allocate(capacity: max(hyperparameters.count, 1))
    table.initialize(from: hyperparameters, count: hyperparameters.count)
    let d = UnsafeMutablePointer<ce_plugin_descriptor>.allocate(capacity: 1)
    d.initialize(to: ce_plugin_descriptor())
    d.pointee.api_major = CE_API_MAJOR
    d.pointee.api_minor = CE_API_MINOR
    d.pointee.struct_size = UInt32(MemoryLayout<ce_plugin_descriptor>.size)
    d.pointee.id = cString(id)
    d.pointee.version = cString(version)
    d.pointee.description = cString(description)
    d.pointee.capabilities = capabilities
    d.pointee.hyperparameter_count = Int32(hyperparameters.count)
    d.pointee.hyperparameters = UnsafePointer(table)
    d.pointee.create = create
    d.pointee.prepare = prepare
    d.pointee.update = update
    d.pointee.apply = apply
    d.pointee.destroy = destroy
    d.pointee.describe = describe
    d.pointee.learning_rate_sweep_min = learningRateSweep?.lowerBound ?? 0
    d.pointee.learning_rate_sweep_max = learningRateSweep?.upperBound ?? 0
    return UnsafePointer(d)
}

/// An error inside a plugin: reported through host->set_error as a status code.
public struct PluginError: Error {
    public let code: ce_status
    public let message: String
    public init(_ code: ce_status, _ message: String) { self.code = code; self.message = message }
}

/// The host table, with Swift signatures that throw PluginError.
public struct Host {
    public let raw: UnsafePointer<ce_host>
    public init(_ raw: UnsafePointer<ce_host>?) { self.raw = raw! }
    var ctx: UnsafeMutableRawPointer? { raw.pointee.ctx }

    /// Runs `body`; a thrown error becomes set_error + its status. Nothing unwinds into C.
    public func guarded(_ body: () throws -> Void) -> ce_status {
        do { try body(); return CE_OK } catch let e as PluginError {
            raw.pointee.set_error(ctx, e.message)
            return e.code
        } catch {
            raw.pointee.set_error(ctx, "\(error)")
            return CE_ERR_INTERNAL
        }
    }

    func check(_ s: ce_status, _ what: @autoclosure () -> String) throws {
        if s != CE_OK { throw PluginError(s, what()) }
    }

    public func log(_ message: String) { raw.pointee.log(ctx, CE_LOG_INFO, message) }
    public func number(_ name: String) throws -> Double {
        var v = 0.0
        try check(raw.pointee.option_number(ctx, name, &v), "hyperparameter \(name) is missing")
        return v
    }
    public func string(_ name: String) throws -> String {
        var p: UnsafePointer<CChar>? = nil
        try check(raw.pointee.option_string(ctx, name, &p), "hyperparameter \(name) is missing")
        return p.map { String(cString: $0) } ?? ""
    }
    public func modelInfo() throws -> ce_model_info {
        var info = ce_model_info()
        info.struct_size = UInt32(MemoryLayout<ce_model_info>.size)
        try check(raw.pointee.model_info(ctx, &info), "model_info failed")
        return info
    }
    public var paramCount: Int { Int(raw.pointee.param_count(ctx)) }
    public func param(at i: Int) throws -> OpaquePointer {
        var p: OpaquePointer? = nil
        try check(raw.pointee.param_at(ctx, Int64(i), &p), "no parameter \(i)")
        return p!
    }
    public func name(of p: OpaquePointer) -> String {
        raw.pointee.param_name(ctx, p).map { String(cString: $0) } ?? "?"
    }
    public func value(of p: OpaquePointer) throws -> ce_tensor {
        var t = ce_tensor()
        try check(raw.pointee.param_value(ctx, p, &t), "param_value failed")
        return t
    }
    public func train(_ p: OpaquePointer) throws { try check(raw.pointee.train_param(ctx, p), "train_param failed") }
    public var moduleCount: Int { Int(raw.pointee.module_count(ctx)) }
    public func moduleName(_ i: Int) -> String {
        raw.pointee.module_name(ctx, Int64(i)).map { String(cString: $0) } ?? ""
    }
    public func matches(_ name: String, _ regex: String) throws -> Bool {
        let r = raw.pointee.module_matches(ctx, name, regex)
        if r < 0 { throw PluginError(CE_ERR_INVALID_ARGUMENT, "invalid regular expression \(regex)") }
        return r == 1
    }
    public func attachLowRank(_ module: String, rank: Int, scale: Float) throws -> (A: OpaquePointer, B: OpaquePointer)
    {
        var a: OpaquePointer? = nil, b: OpaquePointer? = nil
        try check(
            raw.pointee.attach_low_rank(ctx, module, Int32(rank), scale, &a, &b), "attach_low_rank on \(module) failed")
        return (a!, b!)
    }
    public func adamStep(
        _ p: OpaquePointer, lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double
    ) throws {
        try check(raw.pointee.adam_step(ctx, p, lr, beta1, beta2, eps, weightDecay), "adam_step failed")
    }
    public func uniform() -> Double { raw.pointee.random_uniform(ctx) }
    public var exampleCount: Int { Int(raw.pointee.example_count(ctx)) }
    /// Token ids of one text of example `i` (CE_TEXT_*), or nil when it has none.
    public func exampleTokens(_ i: Int, _ which: Int32) -> [Int32]? {
        var p: UnsafePointer<Int32>? = nil, n: Int64 = 0
        guard raw.pointee.example_tokens(ctx, Int64(i), which, &p, &n) == CE_OK else { return nil }
        return Array(UnsafeBufferPointer(start: p, count: Int(n)))
    }
    public var taskLoss: String { raw.pointee.task_loss(ctx).map { String(cString: $0) } ?? "good" }
    public func corpus(_ path: String) throws -> [[Int32]] {
        var n: Int64 = 0
        try check(raw.pointee.corpus_size(ctx, path, &n), "cannot read corpus \(path)")
        return try (0..<Int(n)).map { i in
            var p: UnsafePointer<Int32>? = nil, c: Int64 = 0
            try check(raw.pointee.corpus_document(ctx, path, Int64(i), &p, &c), "cannot read document \(i) of \(path)")
            return Array(UnsafeBufferPointer(start: p, count: Int(c)))
        }
    }
    /// An optional extension table by id, or nil.
    public func extensionTable<T>(_ id: String, as: T.Type) -> UnsafePointer<T>? {
        raw.pointee.get_extension(ctx, id).map { $0.assumingMemoryBound(to: T.self) }
    }
    public func call(_ status: ce_status, _ what: @autoclosure () -> String) throws { try check(status, what()) }
    public var context: UnsafeMutableRawPointer? { ctx }
}

/// Moves a Swift object across the boundary as the plugin's `void *instance`.
public enum Instance {
    public static func store<T: AnyObject>(_ object: T, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?) {
        out?.pointee = Unmanaged.passRetained(object).toOpaque()
    }
    public static func get<T: AnyObject>(_ p: UnsafeMutableRawPointer?, as: T.Type) -> T {
        Unmanaged<T>.fromOpaque(p!).takeUnretainedValue()
    }
    public static func release<T: AnyObject>(_ p: UnsafeMutableRawPointer?, as: T.Type) {
        if let p { Unmanaged<T>.fromOpaque(p).release() }
    }
}

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
