import Foundation
import Support

/// A GGUF v2/v3 file (the llama.cpp format): metadata key/values, a tensor table, then data.
/// Memory-mapped; tensors are decoded to fp32 only when loaded.
///
/// Layout: "GGUF", u32 version, u64 tensor count, u64 kv count, kvs, tensor infos,
/// padding to `general.alignment` (default 32), tensor data. Dims are stored fastest-first.
public final class GGUFFile: WeightSource {
    public enum Value: Equatable {
        case int(Int64), float(Double), bool(Bool), string(String)
        indirect case array([Value])
        /// An array of numbers or booleans as its file bytes (ggml value type `type`): a 40 MB array
        /// of bytes stays 40 MB instead of an enum per element; `array` decodes it when asked.
        case numbers(type: UInt32, raw: Data)

        public var int: Int? { if case .int(let v) = self { return Int(exactly: v) } else { return nil } }
        public var double: Double? {
            switch self {
            case .float(let v): return v;
            case .int(let v): return Double(v);
            default: return nil
            }
        }
        public var string: String? { if case .string(let v) = self { return v } else { return nil } }
        public var bool: Bool? { if case .bool(let v) = self { return v } else { return nil } }
        public var array: [Value]? {
            switch self {
            case .array(let v): return v
            case .numbers(let type, let raw): return Self.decode(type: type, raw)
            default: return nil
            }
        }
        /// How many elements an array holds, without decoding a numeric one.
        public var count: Int? {
            switch self {
            case .array(let v): return v.count
            case .numbers(let type, let raw): return raw.count / (numberSize(type) ?? 1)
            default: return nil
            }
        }
    }

    public struct TensorInfo {
        public let name: String
        public let shape: [Int]  // slowest-first (PyTorch order)
        public let type: UInt32  // ggml type id
        public let offset: Int  // absolute in the file
        public let byteCount: Int
    }

    public let path: String
    public let version: UInt32
    public let metadata: [String: Value]
    public let tensors: [String: TensorInfo]
    public let tensorOrder: [String]
    /// Where the metadata key/values lie in the file (after the 24-byte header), and how many:
    /// an export copies them verbatim, every value with its exact type.
    public let metadataBytes: Range<Int>
    public let metadataCount: Int
    let file: MappedFile

    // Limits that keep a lying header from asking for absurd work.
    static let maxTensors: UInt64 = 1 << 20, maxKVs: UInt64 = 1 << 20, maxArray: UInt64 = 1 << 28

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        var r = ByteReader(file: file, offset: 0)
        let magic = try r.raw(4, "magic")
        guard Array(magic) == Array("GGUF".utf8) else {
            throw formatError(path, "not a GGUF file (magic bytes are \(Array(magic)))")
        }
        version = try r.u32("version")
        guard version == 2 || version == 3 else {
            throw formatError(path, "GGUF version \(version) is not supported (2 or 3)")
        }
        let nTensors = try r.u64("tensor count"), nKV = try r.u64("metadata count")
        guard nTensors <= Self.maxTensors else {
            throw formatError(path, "tensor count \(nTensors) exceeds \(Self.maxTensors)")
        }
        guard nKV <= Self.maxKVs else { throw formatError(path, "metadata count \(nKV) exceeds \(Self.maxKVs)") }

        var meta: [String: Value] = [:]
        for i in 0..<Int(nKV) {
            let key = try r.string("metadata key #\(i)")
            let type = try r.u32("type of \(key)")
            meta[key] = try Self.readValue(&r, type: type, key: key, depth: 0)
        }
        metadata = meta
        metadataBytes = 24..<r.offset
        metadataCount = Int(nKV)

        let infos = try Self.readTensorInfos(&r, count: Int(nTensors), path: path)
        let alignment = meta["general.alignment"]?.int ?? 32
        guard alignment > 0, alignment & (alignment - 1) == 0, alignment <= 1 << 16 else {
            throw formatError(path, "general.alignment \(alignment) is not a power of two")
        }
        let dataStart = (r.offset + alignment - 1) / alignment * alignment

        (tensors, tensorOrder) = try Self.locate(infos, dataStart: dataStart, file: file, path: path)
    }

    /// The tensor table of the header: name, shape (PyTorch order), ggml type, offset.
    static func readTensorInfos(
        _ r: inout ByteReader, count: Int, path: String
    ) throws
        -> [(String, [Int], UInt32, UInt64)]
    {
        var infos: [(String, [Int], UInt32, UInt64)] = []
        for i in 0..<count {
            let name = try r.string("tensor name #\(i)")
            let nd = try r.u32("dimension count of \(name)")
            guard (1...4).contains(nd) else {
                throw formatError(path, "tensor \(name) has \(nd) dimensions (1 to 4 allowed)")
            }
            var dims: [Int] = []
            for d in 0..<Int(nd) {
                let v = try r.u64("dimension \(d) of \(name)")
                guard v >= 1, v <= 1 << 32 else { throw formatError(path, "tensor \(name) dimension \(d) is \(v)") }
                dims.append(Int(v))
            }
            let type = try r.u32("type of \(name)")
            let off = try r.u64("offset of \(name)")
            infos.append((name, dims.reversed(), type, off))
        }
        return infos
    }

    /// Each tensor's bytes in the file, checked against its type and the file's size.
    static func locate(
        _ infos: [(String, [Int], UInt32, UInt64)], dataStart: Int, file: MappedFile, path: String
    )
        throws -> ([String: TensorInfo], [String])
    {
        var table: [String: TensorInfo] = [:]
        var order: [String] = []
        for (name, shape, type, off) in infos {
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let m = acc.0.multipliedReportingOverflow(by: d); return (m.partialValue, acc.1 || m.overflow)
            }
            guard !overflow, count <= 1 << 40 else {
                throw formatError(path, "tensor \(name) shape \(shape) is too large")
            }
            guard let bytes = Self.byteCount(type: type, count: count) else {
                throw formatError(
                    path,
                    "tensor \(name) has ggml type \(type), which canonedit does not read ("
                        + GGMLType.all.map(\.name).joined(separator: ", ") + "; or its size is not whole blocks)"
                )
            }
            // ggml lays blocks along rows: a row (the last dimension) must be whole blocks.
            if let t = GGMLType.of(type), t.blockValues > 1, let row = shape.last, row % t.blockValues != 0 {
                throw formatError(
                    path, "tensor \(name) is \(t.name) with rows of \(row) values, not whole blocks of \(t.blockValues)"
                )
            }
            guard off < UInt64(file.size) else {
                throw formatError(path, "tensor \(name) offset \(off) is past the end of the file")
            }
            let abs = dataStart + Int(off)
            guard abs <= file.size, bytes <= file.size - abs else {
                throw formatError(
                    path,
                    "tensor \(name) needs bytes \(abs)..<\(abs + bytes) but the file has \(file.size) bytes "
                        + "(truncated?)"
                )
            }
            guard table[name] == nil else { throw formatError(path, "tensor \(name) appears twice") }
            table[name] = TensorInfo(name: name, shape: shape, type: type, offset: abs, byteCount: bytes)
            order.append(name)
        }
        return (table, order)
    }

    /// Bytes that `count` values of ggml type `type` occupy, nil for unsupported types.
    static func byteCount(type: UInt32, count: Int) -> Int? { GGMLType.of(type)?.byteCount(count) }

    static func readValue(_ r: inout ByteReader, type: UInt32, key: String, depth: Int) throws -> Value {
        switch type {
        case 0: return .int(Int64(try r.scalar(UInt8.self, key)))
        case 1: return .int(Int64(try r.scalar(Int8.self, key)))
        case 2: return .int(Int64(try r.scalar(UInt16.self, key)))
        case 3: return .int(Int64(try r.scalar(Int16.self, key)))
        case 4: return .int(Int64(try r.u32(key)))
        case 5: return .int(Int64(try r.scalar(Int32.self, key)))
        case 6: return .float(Double(try r.f32(key)))
        case 7: return .bool(try r.scalar(UInt8.self, key) != 0)
        case 8: return .string(try r.string(key))
        case 10: return .int(Int64(bitPattern: try r.u64(key)))
        case 11: return .int(Int64(bitPattern: try r.u64(key)))
        case 12: return .float(try r.f64(key))
        case 9:
            guard depth < 2 else { throw formatError(r.file.path, "metadata \(key) nests arrays too deeply") }
            let et = try r.u32("element type of \(key)")
            let n = try r.u64("length of \(key)")
            // Every element takes at least one byte, so a longer array cannot fit in the file.
            guard n <= maxArray, n <= UInt64(r.file.size - r.offset) else {
                throw formatError(r.file.path, "metadata \(key) claims \(n) elements, more than the file can hold")
            }
            if let size = numberSize(et) {
                let (bytes, overflow) = Int(n).multipliedReportingOverflow(by: size)
                guard !overflow else { throw formatError(r.file.path, "metadata \(key) is too long") }
                return .numbers(type: et, raw: Data(try r.raw(bytes, "elements of \(key)")))
            }
            var out: [Value] = []
            out.reserveCapacity(Int(n))
            for _ in 0..<Int(n) { out.append(try readValue(&r, type: et, key: key, depth: depth + 1)) }
            return .array(out)
        default:
            throw formatError(r.file.path, "metadata \(key) has unknown value type \(type)")
        }
    }

    public var tensorNames: [String] { tensorOrder }
    public func shape(of name: String) -> [Int]? { tensors[name]?.shape }

    /// A tensor that must exist with `shape`: a 2-D tensor in a format other than F32 stays in
    /// that format (StoredBlocks) until its values are needed; anything else is decoded now.
    public func weight(_ name: String, shape expected: [Int]) throws -> Tensor {
        guard let info = tensors[name], info.shape == expected, info.type != 0, let type = GGMLType.of(info.type),
            let t = StoredBlocks.tensor(
                expected, type: type, bytes: try file.bytes(at: info.offset, count: info.byteCount, name), file: file)
        else { return try tensor(name, shape: expected) }
        return t
    }

    /// Bytes the model will hold once loaded: stored 2-D tensors as they are, the rest as fp32.
    public var residentBytes: Int {
        tensors.values.reduce(0) { sum, t in
            let count = t.shape.reduce(1, *)
            return sum + (StoredBlocks.enabled && t.shape.count == 2 && t.type != 0 ? t.byteCount : count * 4)
        }
    }

    public func load(_ name: String, into t: Tensor) throws {
        guard let info = tensors[name] else { throw formatError(path, "tensor \(name) is missing") }
        guard info.shape == t.shape else {
            throw formatError(path, "tensor \(name) has shape \(info.shape), expected \(t.shape)")
        }
        let src = try file.bytes(at: info.offset, count: info.byteCount, "tensor \(name)")
        guard let type = GGMLType.of(info.type) else {
            throw formatError(path, "tensor \(name) has unsupported type \(info.type)")
        }
        type.decode(t.data, src.baseAddress!.assumingMemoryBound(to: UInt8.self), Int64(t.count))
    }

    // Typed metadata access with errors that name the key.
    public func int(_ key: String) throws -> Int {
        guard let v = metadata[key]?.int else {
            throw formatError(path, "metadata \(key) is missing or not an integer")
        }
        return v
    }
    public func double(_ key: String) throws -> Double {
        guard let v = metadata[key]?.double else {
            throw formatError(path, "metadata \(key) is missing or not a number")
        }
        return v
    }
    public func string(_ key: String) throws -> String {
        guard let v = metadata[key]?.string else {
            throw formatError(path, "metadata \(key) is missing or not a string")
        }
        return v
    }
}
