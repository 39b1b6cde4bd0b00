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
public struct Host: OptionReading {
    public let raw: UnsafePointer<ce_host>
    public init(_ raw: UnsafePointer<ce_host>?) { self.raw = raw! }
    public var ctx: UnsafeMutableRawPointer? { raw.pointee.ctx }
    public var numberOption: NumberOption { raw.pointee.option_number }
    public var stringOption: StringOption { raw.pointee.option_string }
    public var modelInfoReader: ModelInfoReader { raw.pointee.model_info }

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

    public func log(_ message: String) { raw.pointee.log(ctx, CE_LOG_INFO, message) }
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

    /// A descriptor's `create`: makes the plugin's object from the host (its options) and hands
    /// it over as the instance; a thrown error becomes set_error and its status.
    public static func create<T: AnyObject>(
        _ host: UnsafePointer<ce_host>?, _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?,
        _ make: (Host) throws -> T
    ) -> ce_status {
        let h = Host(host)
        return h.guarded { store(try make(h), out) }
    }

    /// A descriptor's `prepare`, `update` or `apply`: `body` on the instance's object and the
    /// host table; a thrown error becomes set_error and its status.
    public static func run<T: AnyObject>(
        _ p: UnsafeMutableRawPointer?, _ host: UnsafePointer<ce_host>?, as: T.Type, _ body: (T, Host) throws -> Void
    ) -> ce_status {
        let h = Host(host), object = get(p, as: T.self)
        return h.guarded { try body(object, h) }
    }
}
