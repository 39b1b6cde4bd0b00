import Foundation

/// Bytes per element of a ggml metadata number type (integers, floats, booleans); nil for
/// strings and arrays.
func numberSize(_ type: UInt32) -> Int? {
    switch type {
    case 0, 1, 7: return 1
    case 2, 3: return 2
    case 4, 5, 6: return 4
    case 10, 11, 12: return 8
    default: return nil
    }
}

extension GGUFFile.Value {
    /// The elements of a numeric array, little-endian as GGUF stores them.
    static func decode(type: UInt32, _ raw: Data) -> [GGUFFile.Value] {
        guard let size = numberSize(type) else { return [] }
        return raw.withUnsafeBytes { b in
            (0..<(raw.count / size)).map { i -> GGUFFile.Value in
                let at = i * size
                switch type {
                case 0: return .int(Int64(b[at]))
                case 1: return .int(Int64(Int8(bitPattern: b[at])))
                case 2: return .int(Int64(UInt16(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt16.self))))
                case 3: return .int(Int64(Int16(littleEndian: b.loadUnaligned(fromByteOffset: at, as: Int16.self))))
                case 4: return .int(Int64(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))))
                case 5: return .int(Int64(Int32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: Int32.self))))
                case 6:
                    let bits = UInt32(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt32.self))
                    return .float(Double(Float(bitPattern: bits)))
                case 7: return .bool(b[at] != 0)
                case 12:
                    let bits = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                    return .float(Double(bitPattern: bits))
                default:  // 10, 11: 64-bit integers
                    let bits = UInt64(littleEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self))
                    return .int(Int64(bitPattern: bits))
                }
            }
        }
    }
}
