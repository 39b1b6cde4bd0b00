import Engine
import Foundation
import PluginAPI
import Setting
import Support

/// A plugin library opened with dlopen, its descriptor checked. Libraries are opened with
/// RTLD_NODELETE and never closed: the Swift runtime keeps pointers into Swift plugins.
public final class PluginLibrary {
    public let path: String
    public let id: String
    public let version: String
    public let description: String
    public let capabilities: UInt64
    public let schema: [Hyperparameter]
    let descriptor: UnsafePointer<ce_plugin_descriptor>

    public var apiVersion: String { "\(descriptor.pointee.api_major).\(descriptor.pointee.api_minor)" }
    public var trains: Bool { capabilities & UInt64(CE_CAP_TRAINS) != 0 }
    public var closedForm: Bool { capabilities & UInt64(CE_CAP_CLOSED_FORM) != 0 }

    /// Opens and validates `path`. Every refusal names the file and the reason.
    public init(path: String) throws {
        self.path = path
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            throw CanonEditError("\(path): cannot load (\(String(cString: dlerror())))")
        }
        guard let sym = dlsym(handle, CE_PLUGIN_ENTRY_SYMBOL) else {
            throw CanonEditError("\(path): not a canonedit plugin (no exported symbol \(CE_PLUGIN_ENTRY_SYMBOL))")
        }
        let entry = unsafeBitCast(sym, to: ce_plugin_entry_fn.self)
        guard let d = entry(CE_API_MAJOR, CE_API_MINOR) else {
            throw CanonEditError(
                "\(path): the plugin declined host ABI \(CE_API_MAJOR).\(CE_API_MINOR) (it was built for another "
                    + "major version)"
            )
        }
        let major = d.pointee.api_major
        guard major == CE_API_MAJOR else {
            throw CanonEditError(
                "\(path): plugin ABI \(major).\(d.pointee.api_minor) does not match host ABI "
                    + "\(CE_API_MAJOR).\(CE_API_MINOR); rebuild the plugin against this canonedit_plugin.h"
            )
        }
        guard Int(d.pointee.struct_size) >= MemoryLayout<ce_plugin_descriptor>.size else {
            throw CanonEditError(
                "\(path): descriptor struct_size \(d.pointee.struct_size) is smaller than ABI 1.0's "
                    + "\(MemoryLayout<ce_plugin_descriptor>.size)"
            )
        }
        descriptor = d
        func str(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
        id = str(d.pointee.id)
        version = str(d.pointee.version)
        description = str(d.pointee.description)
        capabilities = d.pointee.capabilities
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
            throw CanonEditError("\(path): plugin id \"\(id)\" must be non-empty letters, digits, _ - .")
        }
        guard d.pointee.create != nil, d.pointee.destroy != nil else {
            throw CanonEditError("\(path): plugin \(id) lacks create or destroy")
        }
        let trains = capabilities & UInt64(CE_CAP_TRAINS) != 0, closed = capabilities & UInt64(CE_CAP_CLOSED_FORM) != 0
        guard trains || closed else {
            throw CanonEditError("\(path): plugin \(id) declares neither CE_CAP_TRAINS nor CE_CAP_CLOSED_FORM")
        }
        if trains, d.pointee.prepare == nil || d.pointee.update == nil {
            throw CanonEditError("\(path): plugin \(id) declares CE_CAP_TRAINS but lacks prepare or update")
        }
        if closed, d.pointee.apply == nil {
            throw CanonEditError("\(path): plugin \(id) declares CE_CAP_CLOSED_FORM but lacks apply")
        }
        schema = try Hyperparameter.schema(of: d.pointee, plugin: id, path: path)
    }
}
