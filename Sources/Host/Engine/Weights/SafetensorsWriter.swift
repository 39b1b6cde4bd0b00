import Foundation
import Kernels
import Support

/// Writes a safetensors file atomically (a temporary name, then renamed), streaming each
/// array through a staging buffer that goes to disk past the page cache (StagedFileWriter):
/// F32 or F16 values, and I64 index arrays.
public enum SafetensorsWriter {
    public enum DType: String { case f32 = "F32", f16 = "F16" }

    /// One stored array: values (stored in the file's dtype) or int64 indices.
    public enum Item {
        case tensor(String, Tensor)
        case indices(String, [Int64])

        var name: String {
            switch self {
            case .tensor(let n, _), .indices(let n, _): return n
            }
        }
    }

    public static func write(
        _ tensors: [(String, Tensor)], to path: String, dtype: DType = .f32,
        metadata: [String: String] = [:]
    ) throws {
        try write(items: tensors.map { .tensor($0.0, $0.1) }, to: path, dtype: dtype, metadata: metadata)
    }

    public static func write(
        items: [Item], to path: String, dtype: DType = .f32, metadata: [String: String] = [:]
    ) throws {
        let json = try header(items, dtype: dtype, metadata: metadata)
        try AtomicFile.write(to: path) { out in
            let writer = StagedFileWriter(fd: out.fileDescriptor, path: path, offset: 0)
            try writer.write(lengthPrefixed(json))
            try writeArrays(items.map(Source.init), dtype: dtype, to: writer)
            try writer.finish(endsFile: true)
        }
    }

    /// The JSON header (without its length), padded with spaces to a multiple of 8 bytes (or
    /// to `size`) so the data starts aligned.
    static func header(_ items: [Item], dtype: DType, metadata: [String: String], size: Int = 0) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for item in items {
            let (type, shape, bytes): (String, [Int], Int)
            switch item {
            case .tensor(_, let t): (type, shape, bytes) = (dtype.rawValue, t.shape, t.count * (dtype == .f32 ? 4 : 2))
            case .indices(_, let ix): (type, shape, bytes) = ("I64", [ix.count], ix.count * 8)
            }
            header[item.name] = ["dtype": type, "shape": shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 || json.count < size { json.append(0x20) }
        return json
    }

    /// The header as the file holds it: its length (u64 little-endian), then the JSON.
    static func lengthPrefixed(_ json: Data) -> Data {
        var head = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { head.append(contentsOf: $0) }
        head.append(json)
        return head
    }

    /// What the arrays' writer reads: addresses and counts, taken from the items up front (so a
    /// writer on another thread is not disturbed by a tensor's storage being swapped meanwhile).
    enum Source {
        case values(UnsafePointer<Float>, Int)
        case indices([Int64])

        init(_ item: Item) {
            switch item {
            case .tensor(_, let t): self = .values(t.data, t.count)
            case .indices(_, let ix): self = .indices(ix)
            }
        }
    }

    static func writeArrays(_ sources: [Source], dtype: DType, to out: StagedFileWriter) throws {
        for source in sources {
            switch source {
            case .values(let p, let n) where dtype == .f32:
                try out.write(UnsafeRawBufferPointer(start: p, count: n * 4))
            case .values(let p, let n):
                try out.write(count: n, size: 2) { dst, k, start in
                    ce_quant_f16(dst.assumingMemoryBound(to: UInt16.self), p + start, Int64(k))
                }
            case .indices(let ix): try ix.withUnsafeBytes { try out.write($0) }
            }
        }
    }
}
