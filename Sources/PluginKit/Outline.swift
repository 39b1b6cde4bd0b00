// The outline table a plugin's `describe` receives (ABI 1.3), with Swift signatures.
import Glibc
import PluginAPI

/// What the host knows before any weight is read, and where the plugin reports what it will do.
public struct Outline: OptionReading {
    public let raw: UnsafePointer<ce_outline>
    public init(_ raw: UnsafePointer<ce_outline>?) { self.raw = raw! }
    public var ctx: UnsafeMutableRawPointer? { raw.pointee.ctx }
    public var numberOption: NumberOption { raw.pointee.option_number }
    public var stringOption: StringOption { raw.pointee.option_string }
    public var modelInfoReader: ModelInfoReader { raw.pointee.model_info }

    public var exampleCount: Int { Int(raw.pointee.example_count(ctx)) }
    public var longestExample: Int { Int(raw.pointee.longest_example(ctx)) }
    public var sequential: Bool { raw.pointee.sequential(ctx) != 0 }

    /// Linear modules as (name, out, in, layer).
    public var modules: [(name: String, out: Int, in: Int, layer: Int)] {
        (0..<Int(raw.pointee.module_count(ctx))).map { i in
            var o: Int64 = 0, n: Int64 = 0, l: Int32 = 0
            _ = raw.pointee.module_shape(ctx, Int64(i), &o, &n, &l)
            return (raw.pointee.module_name(ctx, Int64(i)).map { String(cString: $0) } ?? "", Int(o), Int(n), Int(l))
        }
    }
    public func matches(_ name: String, _ regex: String) throws -> Bool {
        let r = raw.pointee.module_matches(ctx, name, regex)
        if r < 0 { throw PluginError(CE_ERR_INVALID_ARGUMENT, "invalid regular expression \(regex)") }
        return r == 1
    }

    public func willTrain(_ regex: String) throws { try check(raw.pointee.will_train(ctx, regex), "will_train failed") }
    public func willAttachLowRank(_ module: String, rank: Int) throws {
        try check(raw.pointee.will_attach_low_rank(ctx, module, Int32(rank)), "will_attach_low_rank on \(module)")
    }
    public func willAdd(_ floats: Int, layer: Int) throws {
        try check(raw.pointee.will_add(ctx, Int64(floats), Int32(layer)), "will_add failed")
    }
    public func willHold(_ bytes: Int, _ what: String) throws {
        try check(raw.pointee.will_hold(ctx, Int64(bytes), what), "will_hold failed")
    }
    public func willRun(rows: Int, tokens: Int, lowestLayer: Int) throws {
        try check(raw.pointee.will_run(ctx, Int64(rows), Int64(tokens), Int32(lowestLayer)), "will_run failed")
    }
    public func mayChange(_ regex: String) throws { try check(raw.pointee.may_change(ctx, regex), "may_change failed") }

    /// A descriptor's `describe`: `body` on the outline; a thrown error becomes set_error and its status.
    public static func run(_ raw: UnsafePointer<ce_outline>?, _ body: (Outline) throws -> Void) -> ce_status {
        let o = Outline(raw)
        return o.guarded { try body(o) }
    }

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
}

/// 10^e, for learning-rate ranges written as the paper writes them (10^-U(2, 6.5)).
public func tenTo(_ e: Double) -> Double { pow(10, e) }

/// A regex that matches exactly `name` (module names hold dots).
public func literal(_ name: String) -> String {
    var out = ""
    for c in name { out += ".^$*+?()[]{}|\\".contains(c) ? "\\\(c)" : String(c) }
    return out
}
