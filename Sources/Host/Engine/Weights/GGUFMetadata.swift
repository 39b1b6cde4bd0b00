import Foundation

/// GGUF metadata key/values written from scratch (for a model that did not come from a GGUF
/// file): each value is its type id then its little-endian bytes; arrays give the element
/// type and count first. Keys keep the order they are added in.
public struct GGUFMetadata {
    public enum Value {
        case u32(UInt32), i32(Int32), f32(Float), bool(Bool), string(String)
        case strings([String]), i32s([Int32])
    }

    public private(set) var entries: [(String, Value)] = []
    public init() {}

    public mutating func set(_ key: String, _ value: Value) { entries.append((key, value)) }

    /// The encoded key/value section and how many entries it holds.
    public var encoded: (bytes: Data, count: Int) {
        var out = Data()
        for (key, value) in entries {
            out += Self.string(key)
            out += Self.encode(value)
        }
        return (out, entries.count)
    }

    static func le<T: FixedWidthInteger>(_ x: T) -> Data { withUnsafeBytes(of: x.littleEndian) { Data($0) } }
    static func string(_ s: String) -> Data { le(UInt64(s.utf8.count)) + Data(s.utf8) }

    // Type ids from the GGUF specification.
    static func encode(_ v: Value) -> Data {
        switch v {
        case .u32(let x): return le(UInt32(4)) + le(x)
        case .i32(let x): return le(UInt32(5)) + le(x)
        case .f32(let x): return le(UInt32(6)) + le(x.bitPattern)
        case .bool(let x): return le(UInt32(7)) + Data([x ? 1 : 0])
        case .string(let s): return le(UInt32(8)) + string(s)
        case .strings(let a):
            return a.reduce(le(UInt32(9)) + le(UInt32(8)) + le(UInt64(a.count))) { $0 + string($1) }
        case .i32s(let a):
            return a.reduce(le(UInt32(9)) + le(UInt32(5)) + le(UInt64(a.count))) { $0 + le($1) }
        }
    }
}
