// Options and the model's shape, read the same way from the host table and from the outline
// table a `describe` receives: both hand out the same three C functions.
import PluginAPI

public typealias NumberOption =
    @convention(c) (
        UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<Double>?
    ) -> ce_status
public typealias StringOption =
    @convention(c) (
        UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafeMutablePointer<UnsafePointer<CChar>?>?
    ) -> ce_status
public typealias ModelInfoReader =
    @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<ce_model_info>?) -> ce_status

/// A table that reads options and the model's shape through those functions.
public protocol OptionReading {
    var ctx: UnsafeMutableRawPointer? { get }
    var numberOption: NumberOption { get }
    var stringOption: StringOption { get }
    var modelInfoReader: ModelInfoReader { get }
}

/// A host status as a thrown PluginError, for every table PluginKit wraps.
func check(_ s: ce_status, _ what: @autoclosure () -> String) throws {
    if s != CE_OK { throw PluginError(s, what()) }
}

extension OptionReading {
    public func number(_ name: String) throws -> Double {
        var v = 0.0
        try check(numberOption(ctx, name, &v), "hyperparameter \(name) is missing")
        return v
    }
    public func string(_ name: String) throws -> String {
        var p: UnsafePointer<CChar>? = nil
        try check(stringOption(ctx, name, &p), "hyperparameter \(name) is missing")
        return p.map { String(cString: $0) } ?? ""
    }
    public func modelInfo() throws -> ce_model_info {
        var info = ce_model_info()
        info.struct_size = UInt32(MemoryLayout<ce_model_info>.size)
        try check(modelInfoReader(ctx, &info), "model_info failed")
        return info
    }
}
