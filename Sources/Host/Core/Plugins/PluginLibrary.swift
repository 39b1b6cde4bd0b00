import Foundation
import PluginAPI

/// One hyperparameter of a plugin's schema, copied out of the C descriptor.
public struct Hyperparameter: Codable, Equatable {
    public enum Kind: String, Codable { case float, int, bool, string }
    public var name: String
    public var kind: Kind
    public var min: Double, max: Double
    public var defaultNumber: Double
    public var defaultString: String
    public var sweepMin: Double, sweepMax: Double
    public var logScale: Bool
    public var noSweep: Bool
    public var help: String
}

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
            throw CanonEditError("\(path): the plugin declined host ABI \(CE_API_MAJOR).\(CE_API_MINOR) (it was built for another major version)")
        }
        let major = d.pointee.api_major
        guard major == CE_API_MAJOR else {
            throw CanonEditError("\(path): plugin ABI \(major).\(d.pointee.api_minor) does not match host ABI \(CE_API_MAJOR).\(CE_API_MINOR); rebuild the plugin against this canonedit_plugin.h")
        }
        guard Int(d.pointee.struct_size) >= MemoryLayout<ce_plugin_descriptor>.size else {
            throw CanonEditError("\(path): descriptor struct_size \(d.pointee.struct_size) is smaller than ABI 1.0's \(MemoryLayout<ce_plugin_descriptor>.size)")
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
        guard trains || closed else { throw CanonEditError("\(path): plugin \(id) declares neither CE_CAP_TRAINS nor CE_CAP_CLOSED_FORM") }
        if trains, d.pointee.prepare == nil || d.pointee.update == nil {
            throw CanonEditError("\(path): plugin \(id) declares CE_CAP_TRAINS but lacks prepare or update")
        }
        if closed, d.pointee.apply == nil { throw CanonEditError("\(path): plugin \(id) declares CE_CAP_CLOSED_FORM but lacks apply") }
        let n = Int(d.pointee.hyperparameter_count)
        guard n >= 0, n <= 256, n == 0 || d.pointee.hyperparameters != nil else {
            throw CanonEditError("\(path): plugin \(id) has an invalid hyperparameter table (count \(n))")
        }
        var schema: [Hyperparameter] = []
        for i in 0..<n {
            let h = d.pointee.hyperparameters[i]
            let name = str(h.name)
            let kinds: [Int32: Hyperparameter.Kind] = [CE_HP_FLOAT: .float, CE_HP_INT: .int, CE_HP_BOOL: .bool, CE_HP_STRING: .string]
            guard !name.isEmpty, let kind = kinds[h.type] else {
                throw CanonEditError("\(path): plugin \(id) hyperparameter #\(i) (\(name)) has no name or an unknown type \(h.type)")
            }
            guard !schema.contains(where: { $0.name == name }) else { throw CanonEditError("\(path): plugin \(id) declares \(name) twice") }
            if kind == .float || kind == .int {
                guard h.min <= h.max, h.min <= h.default_number, h.default_number <= h.max else {
                    throw CanonEditError("\(path): plugin \(id) hyperparameter \(name): default \(h.default_number) is outside [\(h.min), \(h.max)]")
                }
            }
            let sweepMin = h.sweep_min == 0 && h.sweep_max == 0 ? h.min : h.sweep_min
            let sweepMax = h.sweep_min == 0 && h.sweep_max == 0 ? h.max : h.sweep_max
            if (kind == .float || kind == .int), !(h.min <= sweepMin && sweepMin <= sweepMax && sweepMax <= h.max) {
                throw CanonEditError("\(path): plugin \(id) hyperparameter \(name): sweep range [\(sweepMin), \(sweepMax)] is outside [\(h.min), \(h.max)]")
            }
            if h.flags & UInt32(CE_HP_LOG_SCALE) != 0, sweepMin <= 0 {
                throw CanonEditError("\(path): plugin \(id) hyperparameter \(name) is log-scale but its sweep range reaches \(sweepMin)")
            }
            schema.append(Hyperparameter(name: name, kind: kind, min: h.min, max: h.max, defaultNumber: h.default_number,
                                         defaultString: str(h.default_string), sweepMin: sweepMin, sweepMax: sweepMax,
                                         logScale: h.flags & UInt32(CE_HP_LOG_SCALE) != 0, noSweep: h.flags & UInt32(CE_HP_NO_SWEEP) != 0,
                                         help: str(h.help)))
        }
        self.schema = schema
    }

    /// Option values from a config, checked against the schema, with defaults filled in.
    public func options(_ given: [String: YAMLValue], source: String) throws -> [String: PluginOption] {
        var out: [String: PluginOption] = [:]
        for key in given.keys where !schema.contains(where: { $0.name == key }) {
            throw CanonEditError("\(source): \(id) has no hyperparameter \(key); it has \(schema.map(\.name).joined(separator: ", "))")
        }
        for h in schema {
            guard let v = given[h.name], v != .null else {
                out[h.name] = h.kind == .string ? .string(h.defaultString) : .number(h.defaultNumber)
                continue
            }
            switch h.kind {
            case .string:
                guard case .string(let s) = v else { throw CanonEditError("\(source): \(h.name) must be a string, found \(v)") }
                out[h.name] = .string(s)
            case .bool:
                guard case .bool(let b) = v else { throw CanonEditError("\(source): \(h.name) must be true or false, found \(v)") }
                out[h.name] = .number(b ? 1 : 0)
            case .int, .float:
                guard let x = v.double else { throw CanonEditError("\(source): \(h.name) must be a number, found \(v)") }
                if h.kind == .int, x != x.rounded() { throw CanonEditError("\(source): \(h.name) must be a whole number, found \(v)") }
                guard x >= h.min, x <= h.max else { throw CanonEditError("\(source): \(h.name) = \(v) is outside [\(h.min), \(h.max)]") }
                out[h.name] = .number(x)
            }
        }
        return out
    }
}

public enum PluginOption: Equatable {
    case number(Double), string(String)
}

/// Finds plugins: `lib*.so` files in the folder holding the canonedit executable (where the
/// build puts the shipped plugins) and in each `--plugin-path` folder.
public enum PluginRegistry {
    public static func defaultFolders() -> [String] {
        var out = [HostPaths.folder]
        if let env = ProcessInfo.processInfo.environment["CANONEDIT_PLUGIN_PATH"] {
            out += env.split(separator: ":").map(String.init)
        }
        return out
    }

    /// Every plugin found, and why each other library was passed over.
    public static func discover(extra: [String] = []) -> (plugins: [PluginLibrary], skipped: [String]) {
        var plugins: [PluginLibrary] = [], skipped: [String] = []
        var seen = Set<String>()
        for folder in extra + defaultFolders() {
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted()
            for f in files where f.hasPrefix("lib") && f.hasSuffix(".so") {
                let path = folder + "/" + f
                guard !seen.contains(path) else { continue }
                seen.insert(path)
                do {
                    let p = try PluginLibrary(path: path)
                    if !plugins.contains(where: { $0.id == p.id }) { plugins.append(p) }
                    else { skipped.append("\(path): plugin id \(p.id) already loaded from an earlier folder") }
                } catch { skipped.append("\(error)") }
            }
        }
        return (plugins, skipped)
    }

    public static func find(_ id: String, extra: [String] = []) throws -> PluginLibrary {
        let (plugins, _) = discover(extra: extra)
        guard let p = plugins.first(where: { $0.id == id }) else {
            throw CanonEditError("no plugin with id \(id) (found: \(plugins.map(\.id).joined(separator: ", "))); build them with `swift build` or add --plugin-path")
        }
        return p
    }
}
