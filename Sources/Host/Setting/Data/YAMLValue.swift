import Engine
import Foundation
import Support

/// A scalar, list or map from YAML, kept as written (plugin hyperparameters).
public enum YAMLValue: Codable, Equatable, CustomStringConvertible {
    case int(Int), double(Double), bool(Bool), string(String), list([YAMLValue]), map([String: YAMLValue]), null

    public init(from decoder: Swift.Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let v = try? c.decode(Int.self) {
            self = .int(v)
        } else if let v = try? c.decode(Double.self) {
            self = .double(v)
        } else if let v = try? c.decode(Bool.self) {
            self = .bool(v)
        } else if let v = try? c.decode(String.self) {
            self = .string(v)
        } else if let v = try? c.decode([YAMLValue].self) {
            self = .list(v)
        } else {
            self = .map(try c.decode([String: YAMLValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let v): try c.encode(v)
        case .double(let v): try c.encode(v)
        case .bool(let v): try c.encode(v)
        case .string(let v): try c.encode(v)
        case .list(let v): try c.encode(v)
        case .map(let v): try c.encode(v)
        case .null: try c.encodeNil()
        }
    }

    public var double: Double? {
        switch self {
        case .int(let v): return Double(v);
        case .double(let v): return v;
        case .bool(let b): return b ? 1 : 0;
        default: return nil
        }
    }
    public var description: String {
        switch self {
        case .int(let v): return "\(v)"
        case .double(let v): return "\(v)"
        case .bool(let v): return "\(v)"
        case .string(let v): return v
        case .list(let v): return "[\(v.map(\.description).joined(separator: ", "))]"
        case .map(let v):
            return "{\(v.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}"
        case .null: return "null"
        }
    }
}
