import Engine
import Foundation
import PluginAPI
import Setting
import Support

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
    /// Sweeps remove it from the base config (ABI 1.3's CE_HP_CLEARED_IN_SWEEPS).
    public var clearedInSweeps: Bool
    public var help: String
}

extension Hyperparameter {
    /// A value of this hyperparameter as a person writes it: `8`, `true`, `0.0005`, `1e-08`.
    public func describe(_ x: Double) -> String {
        switch kind {
        case .bool: return x != 0 ? "true" : "false"
        case .int: return x.magnitude < 1e15 ? String(Int(x)) : String(format: "%g", x)
        case .float, .string: return String(format: "%g", x)
        }
    }

    /// "int = 8 in [1, 4096]", "bool = false", "string = \"lora\"".
    public var summary: String {
        switch kind {
        case .string: return "string = \"\(defaultString)\""
        case .bool: return "bool = \(describe(defaultNumber))"
        case .int, .float:
            return "\(kind.rawValue) = \(describe(defaultNumber)) in [\(describe(min)), \(describe(max))]"
        }
    }

    /// A descriptor's hyperparameter table, copied and checked: names unique, types known,
    /// defaults and sweep ranges inside the bounds, log-scale ranges positive.
    static func schema(of d: ce_plugin_descriptor, plugin id: String, path: String) throws -> [Hyperparameter] {
        func str(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
        let n = Int(d.hyperparameter_count)
        guard n >= 0, n <= 256, n == 0 || d.hyperparameters != nil else {
            throw CanonEditError("\(path): plugin \(id) has an invalid hyperparameter table (count \(n))")
        }
        var schema: [Hyperparameter] = []
        for i in 0..<n {
            let h = d.hyperparameters[i]
            let name = str(h.name)
            let kinds: [Int32: Hyperparameter.Kind] = [
                CE_HP_FLOAT: .float, CE_HP_INT: .int, CE_HP_BOOL: .bool, CE_HP_STRING: .string,
            ]
            guard !name.isEmpty, let kind = kinds[h.type] else {
                throw CanonEditError(
                    "\(path): plugin \(id) hyperparameter #\(i) (\(name)) has no name or an unknown type \(h.type)")
            }
            guard !schema.contains(where: { $0.name == name }) else {
                throw CanonEditError("\(path): plugin \(id) declares \(name) twice")
            }
            if kind == .float || kind == .int {
                guard h.min <= h.max, h.min <= h.default_number, h.default_number <= h.max else {
                    throw CanonEditError(
                        "\(path): plugin \(id) hyperparameter \(name): default \(h.default_number) is outside "
                            + "[\(h.min), \(h.max)]"
                    )
                }
            }
            let sweepMin = h.sweep_min == 0 && h.sweep_max == 0 ? h.min : h.sweep_min
            let sweepMax = h.sweep_min == 0 && h.sweep_max == 0 ? h.max : h.sweep_max
            if (kind == .float || kind == .int), !(h.min <= sweepMin && sweepMin <= sweepMax && sweepMax <= h.max) {
                throw CanonEditError(
                    "\(path): plugin \(id) hyperparameter \(name): sweep range [\(sweepMin), \(sweepMax)] is outside "
                        + "[\(h.min), \(h.max)]"
                )
            }
            if h.flags & UInt32(CE_HP_LOG_SCALE) != 0, sweepMin <= 0 {
                throw CanonEditError(
                    "\(path): plugin \(id) hyperparameter \(name) is log-scale but its sweep range reaches \(sweepMin)")
            }
            schema.append(
                Hyperparameter(
                    name: name, kind: kind, min: h.min, max: h.max, defaultNumber: h.default_number,
                    defaultString: str(h.default_string), sweepMin: sweepMin, sweepMax: sweepMax,
                    logScale: h.flags & UInt32(CE_HP_LOG_SCALE) != 0, noSweep: h.flags & UInt32(CE_HP_NO_SWEEP) != 0,
                    clearedInSweeps: h.flags & UInt32(CE_HP_CLEARED_IN_SWEEPS) != 0, help: str(h.help)))
        }
        return schema
    }
}

public enum PluginOption: Equatable {
    case number(Double), string(String)
}

extension PluginLibrary {
    /// Option values from a config, checked against the schema, with defaults filled in.
    public func options(_ given: [String: YAMLValue], source: String) throws -> [String: PluginOption] {
        var out: [String: PluginOption] = [:]
        for key in given.keys where !schema.contains(where: { $0.name == key }) {
            throw CanonEditError(
                "\(source): \(id) has no hyperparameter \(key); it has \(schema.map(\.name).joined(separator: ", "))")
        }
        for h in schema {
            guard let v = given[h.name], v != .null else {
                out[h.name] = h.kind == .string ? .string(h.defaultString) : .number(h.defaultNumber)
                continue
            }
            switch h.kind {
            case .string:
                guard case .string(let s) = v else {
                    throw CanonEditError("\(source): \(h.name) must be a string, found \(v)")
                }
                out[h.name] = .string(s)
            case .bool:
                guard case .bool(let b) = v else {
                    throw CanonEditError("\(source): \(h.name) must be true or false, found \(v)")
                }
                out[h.name] = .number(b ? 1 : 0)
            case .int, .float:
                guard let x = v.double else {
                    throw CanonEditError("\(source): \(h.name) must be a number, found \(v)")
                }
                if h.kind == .int, x != x.rounded() {
                    throw CanonEditError("\(source): \(h.name) must be a whole number, found \(v)")
                }
                guard x >= h.min, x <= h.max else {
                    throw CanonEditError("\(source): \(h.name) = \(v) is outside [\(h.min), \(h.max)]")
                }
                out[h.name] = .number(x)
            }
        }
        return out
    }
}
