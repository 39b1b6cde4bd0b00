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

    /// A short name for legends: the description up to its first ":" or " with" ("LoRA",
    /// "Full finetuning", "Conditional-likelihood finetuning"), else the id.
    public var displayName: String {
        for sep in [":", " with "] {
            if let r = description.range(of: sep), r.lowerBound > description.startIndex,
                description.distance(from: description.startIndex, to: r.lowerBound) <= 40
            {
                return String(description[..<r.lowerBound])
            }
        }
        return description.count <= 40 && !description.isEmpty ? description : id
    }

    public var apiVersion: String { "\(descriptor.pointee.api_major).\(descriptor.pointee.api_minor)" }
    public var trains: Bool { capabilities & UInt64(CE_CAP_TRAINS) != 0 }
    public var closedForm: Bool { capabilities & UInt64(CE_CAP_CLOSED_FORM) != 0 }

    /// The descriptor of ABI 1.0, the smallest a 1.x plugin may hand over: up to `destroy`.
    static let descriptorSize10 = UInt32(
        MemoryLayout<ce_plugin_descriptor>.offset(of: \ce_plugin_descriptor.destroy)!
            + MemoryLayout<UnsafeRawPointer>.size)

    static let knownCapabilities =
        UInt64(CE_CAP_TRAINS) | UInt64(CE_CAP_CLOSED_FORM) | UInt64(CE_CAP_BACKPACK_ONLY)
        | UInt64(CE_CAP_NEEDS_ACTIVATIONS) | UInt64(CE_CAP_HOOKS)

    /// A host-owned copy of a plugin's descriptor: the `struct_size` bytes the plugin knows,
    /// the rest zero, so fields added after the plugin's minor version read as absent.
    static func copy(_ d: UnsafePointer<ce_plugin_descriptor>) -> UnsafePointer<ce_plugin_descriptor> {
        let out = UnsafeMutablePointer<ce_plugin_descriptor>.allocate(capacity: 1)
        let size = MemoryLayout<ce_plugin_descriptor>.size
        UnsafeMutableRawPointer(out).initializeMemory(as: UInt8.self, repeating: 0, count: size)
        UnsafeMutableRawPointer(out).copyMemory(from: d, byteCount: min(Int(d.pointee.struct_size), size))
        return UnsafePointer(out)
    }

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
        guard d.pointee.struct_size >= Self.descriptorSize10 else {
            throw CanonEditError(
                "\(path): descriptor struct_size \(d.pointee.struct_size) is smaller than ABI 1.0's "
                    + "\(Self.descriptorSize10)")
        }
        let unknown = d.pointee.capabilities & ~Self.knownCapabilities
        guard unknown == 0 else {
            let bits = (0..<64).filter { unknown & (1 << UInt64($0)) != 0 }.map(String.init).joined(separator: ", ")
            throw CanonEditError(
                "\(path): the plugin declares capability bits this host does not know (bit \(bits); host ABI "
                    + "\(CE_API_MAJOR).\(CE_API_MINOR) knows bits 0-4: trains, closed form, Backpack only, needs "
                    + "activations, hooks); rebuild it against this canonedit_plugin.h or update canonedit")
        }
        let desc = Self.copy(d)
        descriptor = desc
        func str(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
        id = str(desc.pointee.id)
        version = str(desc.pointee.version)
        description = str(desc.pointee.description)
        capabilities = desc.pointee.capabilities
        guard !id.isEmpty, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
            throw CanonEditError("\(path): plugin id \"\(id)\" must be non-empty letters, digits, _ - .")
        }
        guard desc.pointee.create != nil, desc.pointee.destroy != nil else {
            throw CanonEditError("\(path): plugin \(id) lacks create or destroy")
        }
        let trains = capabilities & UInt64(CE_CAP_TRAINS) != 0, closed = capabilities & UInt64(CE_CAP_CLOSED_FORM) != 0
        guard trains || closed else {
            throw CanonEditError("\(path): plugin \(id) declares neither CE_CAP_TRAINS nor CE_CAP_CLOSED_FORM")
        }
        if trains, desc.pointee.prepare == nil || desc.pointee.update == nil {
            throw CanonEditError("\(path): plugin \(id) declares CE_CAP_TRAINS but lacks prepare or update")
        }
        if closed, desc.pointee.apply == nil {
            throw CanonEditError("\(path): plugin \(id) declares CE_CAP_CLOSED_FORM but lacks apply")
        }
        schema = try Hyperparameter.schema(of: desc.pointee, plugin: id, path: path)
    }
}

/// The plugin ABI this host implements.
public enum PluginABI {
    public static var version: String { "\(CE_API_MAJOR).\(CE_API_MINOR)" }
}
