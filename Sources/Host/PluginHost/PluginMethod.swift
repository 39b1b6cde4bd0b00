import Engine
import Foundation
import PluginAPI
import Setting
import Support

/// Runs a loaded plugin as an EditMethod: builds the `ce_host` service table over an
/// EditSession, calls the plugin's functions and turns their status codes into errors.
public final class PluginMethod: EditMethod {
    public let library: PluginLibrary
    let options: [String: PluginOption]
    var bridge: PluginBridge?
    var instance: UnsafeMutableRawPointer?
    public var log: (String) -> Void = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }
    /// Progress of long host services (key statistics) that a terminal may redraw in place.
    public var transient: ((String) -> Void)?

    public var id: String { library.id }

    public init(library: PluginLibrary, options: [String: PluginOption]) {
        self.library = library
        self.options = options
    }

    deinit {
        if let instance { library.descriptor.pointee.destroy(instance) }
    }

    func call(_ what: String, _ f: (UnsafePointer<ce_host>) -> ce_status) throws {
        guard let bridge else { throw CanonEditError("plugin \(id): \(what) before prepare") }
        bridge.error = nil
        let status = withUnsafePointer(to: &bridge.table) { f($0) }
        guard status == CE_OK else {
            let names: [Int32: String] = [
                CE_ERR_INVALID_ARGUMENT: "invalid argument", CE_ERR_NOT_FOUND: "not found",
                CE_ERR_UNSUPPORTED: "unsupported", CE_ERR_NUMERIC: "numeric error", CE_ERR_CANCELLED: "cancelled",
                CE_ERR_NO_MEMORY: "out of memory", CE_ERR_INTERNAL: "internal error",
            ]
            let msg = bridge.error ?? "no message"
            throw PluginFailure(
                pluginID: id, what: what, status: status,
                message:
                    "plugin \(id) \(library.version) failed in \(what): \(names[status] ?? "status \(status)"): \(msg)")
        }
    }

    public func prepare(_ session: EditSession) throws {
        let b = PluginBridge(session: session, options: options, log: log)
        b.transient = transient
        b.method = self
        bridge = b
        let d = library.descriptor.pointee
        var inst: UnsafeMutableRawPointer? = nil
        try call("create") { d.create($0, &inst) }
        instance = inst
        if let prepare = d.prepare { try call("prepare") { prepare(inst, $0) } }
    }

    public var closedForm: Bool { library.closedForm && !library.trains }

    /// What an edit file records to run this method again: id, version and options.
    public var record: MethodRecord {
        MethodRecord(
            id: id, version: library.version,
            options: options.mapValues {
                switch $0 {
                case .number(let x): return "\(x)"
                case .string(let s): return s
                }
            })
    }

    /// The method a hook-based edit file names, from the plugins found: the same id, the same
    /// major version, with the options it ran with.
    public static func forEdit(_ record: MethodRecord, pluginPaths: [String] = []) throws -> PluginMethod {
        let library = try PluginRegistry.find(record.id, extra: pluginPaths)
        func major(_ v: String) -> Substring { v.split(separator: ".").first ?? "" }
        guard major(library.version) == major(record.version) else {
            throw CanonEditError(
                "the edit was made with plugin \(record.id) \(record.version); the one found (\(library.path)) is "
                    + "\(library.version), a different major version")
        }
        // As written in a config, then checked against the schema as a config's options are.
        var given: [String: YAMLValue] = [:]
        for h in library.schema {
            guard let text = record.options[h.name] else {
                throw CanonEditError("the edit does not record \(record.id)'s option \(h.name)")
            }
            if h.kind == .string {
                given[h.name] = .string(text)
            } else {
                guard let x = Double(text) else {
                    throw CanonEditError("the edit records \(record.id)'s option \(h.name) as '\(text)', not a number")
                }
                given[h.name] = h.kind == .bool ? .bool(x != 0) : .double(x)
            }
        }
        let options = try library.options(given, source: "the edit's options for \(record.id)")
        return PluginMethod(library: library, options: options)
    }

    /// The closed-form edit (the session cleans up after it).
    public func apply(_ session: EditSession) throws {
        guard let apply = library.descriptor.pointee.apply else { return }
        try call("apply") { apply(instance, $0) }
    }

    public func update(_ session: EditSession, learningRate: Double, step: Int) throws {
        guard let update = library.descriptor.pointee.update else { return }
        var info = ce_update_info(
            struct_size: UInt32(MemoryLayout<ce_update_info>.size), epoch: Int32(session.epoch),
            epochs: Int32(session.epochs), reserved: 0,
            step: Int64(step), learning_rate: learningRate)
        try call("update") { host in withUnsafePointer(to: &info) { update(instance, host, $0) } }
    }
}

/// A plugin returned an error; the run ends with this recorded and the host goes on.
public struct PluginFailure: Error, CustomStringConvertible {
    public let pluginID: String, what: String, status: Int32, message: String
    public var description: String { message }
}
