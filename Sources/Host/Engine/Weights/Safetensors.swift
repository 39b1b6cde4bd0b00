import Foundation
import Support

/// A safetensors file: u64 little-endian header length N, N bytes of JSON
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then data.
/// Offsets are relative to the end of the header and need not be aligned.
public final class SafetensorsFile: WeightSource {
    struct Entry { let dtype: String; let shape: [Int]; let begin: Int; let end: Int }
    public let path: String
    public let metadata: [String: String]
    let entries: [String: Entry]
    let order: [String]
    let file: MappedFile
    let dataStart: Int
    static let maxHeader = 100 << 20

    static let elementSize: [String: Int] = ["F32": 4, "F16": 2, "BF16": 2, "I64": 8]

    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        var r = ByteReader(file: file, offset: 0)
        let n = try r.u64("header length")
        guard n <= UInt64(Self.maxHeader) else {
            throw formatError(path, "header length \(n) exceeds \(Self.maxHeader) bytes")
        }
        let header = try r.raw(Int(n), "JSON header")
        dataStart = 8 + Int(n)
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: Data(header)) } catch {
            throw formatError(path, "header is not valid JSON (\(error.localizedDescription))")
        }
        guard let dict = json as? [String: Any] else { throw formatError(path, "header is not a JSON object") }
        var entries: [String: Entry] = [:]
        var meta: [String: String] = [:]
        let dataSize = file.size - dataStart
        for (name, any) in dict {
            if name == "__metadata__" {
                for (k, v) in (any as? [String: Any]) ?? [:] { meta[k] = v as? String ?? "\(v)" }
                continue
            }
            guard let e = any as? [String: Any], let dtype = e["dtype"] as? String,
                let shape = e["shape"] as? [Int], let offs = e["data_offsets"] as? [Int], offs.count == 2
            else {
                throw formatError(path, "tensor \(name): header entry needs dtype, shape and two data_offsets")
            }
            guard let es = Self.elementSize[dtype] else {
                throw formatError(path, "tensor \(name) has dtype \(dtype); canonedit reads F32, F16, BF16 and I64")
            }
            guard shape.allSatisfy({ $0 >= 0 && $0 <= 1 << 32 }), shape.count <= 8 else {
                throw formatError(path, "tensor \(name) has an invalid shape \(shape)")
            }
            // Shapes come from the file: a product that overflows (2^32 × 2^32) must not wrap to 0.
            var count = 1, overflow = false
            for d in shape + [es] {
                let m = count.multipliedReportingOverflow(by: d)
                count = m.partialValue
                overflow = overflow || m.overflow
            }
            guard !overflow, count <= 1 << 40 else {
                throw formatError(path, "tensor \(name) has shape \(shape), too large to be real")
            }
            count /= es
            guard offs[0] >= 0, offs[1] >= offs[0], offs[1] <= dataSize else {
                throw formatError(
                    path, "tensor \(name) data_offsets \(offs) fall outside the \(dataSize) data bytes (truncated?)")
            }
            guard offs[1] - offs[0] == count * es else {
                throw formatError(
                    path, "tensor \(name) holds \(offs[1] - offs[0]) bytes but \(dtype) \(shape) needs \(count * es)")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, begin: offs[0], end: offs[1])
        }
        self.entries = entries
        metadata = meta
        order = entries.keys.sorted()
    }

    public var tensorNames: [String] { order }
    public func shape(of name: String) -> [Int]? { entries[name]?.shape }

    public func load(_ name: String, into t: Tensor) throws {
        guard let e = entries[name] else { throw formatError(path, "tensor \(name) is missing") }
        guard e.shape.reduce(1, *) == t.count else {
            throw formatError(path, "tensor \(name) has shape \(e.shape), expected \(t.shape)")
        }
        let src = try file.bytes(at: dataStart + e.begin, count: e.end - e.begin, "tensor \(name)")
        guard let type = Self.valueType(e.dtype) else {
            if e.dtype == "I64" { throw formatError(path, "tensor \(name) holds int64 indices, not values") }
            throw formatError(path, "tensor \(name) has unsupported dtype \(e.dtype)")
        }
        // The decoders read bytes at any alignment (the data need not be 4-byte aligned).
        type.decode(t.data, src.baseAddress!.assumingMemoryBound(to: UInt8.self), Int64(t.count))
    }

    /// The ggml type of a value dtype (F32, F16, BF16), which decodes it.
    static func valueType(_ dtype: String) -> GGMLType? {
        ["F32": 0, "F16": 1, "BF16": 30][dtype].flatMap { GGMLType.of($0) }
    }
}

extension SafetensorsFile {
    /// Bytes `name` holds once loaded, as `weight` keeps it.
    func heldBytes(_ name: String) -> Int {
        guard let e = entries[name] else { return 0 }
        let stored = StoredBlocks.enabled && e.shape.count == 2 && e.dtype != "F32" && Self.valueType(e.dtype) != nil
        return stored ? e.end - e.begin : e.shape.reduce(1, *) * 4
    }

    /// A tensor that must exist with `shape`: a 2-D F16 or BF16 tensor stays in that format
    /// (StoredBlocks) until its values are needed; anything else is decoded now.
    public func weight(_ name: String, shape expected: [Int]) throws -> Tensor {
        guard let e = entries[name], e.shape == expected, e.dtype != "F32", let type = Self.valueType(e.dtype),
            let t = StoredBlocks.tensor(
                expected, type: type, bytes: try file.bytes(at: dataStart + e.begin, count: e.end - e.begin, name),
                file: file)
        else { return try tensor(name, shape: expected) }
        return t
    }

    /// An int64 index array (I64, one dimension).
    public func indices(_ name: String) throws -> [Int64] {
        guard let e = entries[name] else { throw formatError(path, "tensor \(name) is missing") }
        guard e.dtype == "I64", e.shape.count == 1 else {
            throw formatError(path, "tensor \(name) should be a 1-D I64 index array, not \(e.dtype) \(e.shape)")
        }
        let src = try file.bytes(at: dataStart + e.begin, count: e.end - e.begin, "tensor \(name)")
        var out = [Int64](repeating: 0, count: e.shape[0])
        out.withUnsafeMutableBytes { dst in _ = memcpy(dst.baseAddress!, src.baseAddress!, src.count) }
        return out.map { Int64(littleEndian: $0) }
    }

    /// The dtype a tensor is stored in.
    public func dtype(of name: String) -> String? { entries[name]?.dtype }
}

/// A Hugging Face checkpoint directory: `model.safetensors`, or shards listed in
/// `model.safetensors.index.json`. Shards are mapped lazily, one at a time as tensors are read.
public final class SafetensorsCheckpoint: WeightSource {
    public let path: String
    let shardOf: [String: String]  // tensor -> shard file path
    var open: [String: SafetensorsFile] = [:]
    let shapes: [String: [Int]]

    public init(directory: String) throws {
        path = directory
        let fm = FileManager.default
        let index = directory + "/model.safetensors.index.json"
        var shardOf: [String: String] = [:]
        if fm.fileExists(atPath: index) {
            guard let data = fm.contents(atPath: index),
                let j = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                let map = j["weight_map"] as? [String: String]
            else {
                throw formatError(index, "expected a JSON object with a weight_map of tensor name to shard file")
            }
            for (t, f) in map {
                guard !f.contains("/") else {
                    throw formatError(index, "shard name \(f) for \(t) must be a file in the same folder")
                }
                shardOf[t] = directory + "/" + f
            }
        } else if fm.fileExists(atPath: directory + "/model.safetensors") {
            let f = try SafetensorsFile(path: directory + "/model.safetensors")
            open[f.path] = f
            for t in f.tensorNames { shardOf[t] = f.path }
        } else {
            throw CanonEditError("\(directory): no model.safetensors or model.safetensors.index.json")
        }
        // Read every shard header once for shapes (cheap: headers only are touched).
        var shapes: [String: [Int]] = [:]
        var held = 0
        for shard in Set(shardOf.values).sorted() {
            let f = try open[shard] ?? SafetensorsFile(path: shard)
            for t in f.tensorNames where shardOf[t] == shard {
                shapes[t] = f.shape(of: t)
                held += f.heldBytes(t)
            }
        }
        residentBytes = held
        for t in shardOf.keys where shapes[t] == nil {
            throw formatError(index, "tensor \(t) is listed in the index but missing from \(shardOf[t]!)")
        }
        self.shardOf = shardOf
        self.shapes = shapes
    }

    public var tensorNames: [String] { shapes.keys.sorted() }
    public func shape(of name: String) -> [Int]? { shapes[name] }
    /// Bytes the tensors hold once loaded: F16/BF16 matrices as stored, the rest as fp32.
    public let residentBytes: Int

    public func load(_ name: String, into t: Tensor) throws { try file(of: name).load(name, into: t) }

    /// As SafetensorsFile.weight: F16 and BF16 matrices stay stored (their shard stays mapped).
    public func weight(_ name: String, shape: [Int]) throws -> Tensor { try file(of: name).weight(name, shape: shape) }

    func file(of name: String) throws -> SafetensorsFile {
        guard let shard = shardOf[name] else { throw formatError(path, "tensor \(name) is missing") }
        if open[shard] == nil {
            open.removeAll()  // keep one shard mapped at a time (stored weights keep theirs mapped)
            open[shard] = try SafetensorsFile(path: shard)
        }
        return open[shard]!
    }
}
