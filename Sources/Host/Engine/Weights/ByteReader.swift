import Foundation
import Support

/// A cursor over a mapped file for parsing little-endian headers.
struct ByteReader {
    let file: MappedFile
    var offset: Int

    mutating func raw(_ n: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        let b = try file.bytes(at: offset, count: n, what())
        offset += n
        return b
    }
    mutating func scalar<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        let b = try raw(MemoryLayout<T>.size, what())
        return T(littleEndian: b.loadUnaligned(as: T.self))
    }
    mutating func u32(_ what: @autoclosure () -> String) throws -> UInt32 { try scalar(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws -> UInt64 { try scalar(UInt64.self, what()) }
    mutating func f32(_ what: @autoclosure () -> String) throws -> Float { Float(bitPattern: try u32(what())) }
    mutating func f64(_ what: @autoclosure () -> String) throws -> Double { Double(bitPattern: try u64(what())) }

    /// A length-prefixed (u64) UTF-8 string, at most `limit` bytes.
    mutating func string(_ what: @autoclosure () -> String, limit: Int = 1 << 20) throws -> String {
        let n = try u64("length of \(what())")
        guard n <= UInt64(limit) else {
            throw CanonEditError(
                "\(file.path): \(what()) has length \(n) at offset \(offset - 8), over the limit of \(limit) bytes")
        }
        let b = try raw(Int(n), what())
        return String(decoding: b, as: UTF8.self)
    }
}
