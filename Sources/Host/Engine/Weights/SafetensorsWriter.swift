import Foundation
import Kernels
import Support

/// Writes a safetensors file (F32 or F16) atomically: to a temporary name, then renamed.
public enum SafetensorsWriter {
    public enum DType: String { case f32 = "F32", f16 = "F16" }

    public static func write(
        _ tensors: [(String, Tensor)], to path: String, dtype: DType = .f32,
        metadata: [String: String] = [:]
    ) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        let es = dtype == .f32 ? 4 : 2
        var offset = 0
        for (name, t) in tensors {
            header[name] = [
                "dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + t.count * es],
            ]
            offset += t.count * es
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces so data starts aligned
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in tensors {
            if dtype == .f32 {
                out.append(UnsafeBufferPointer(start: t.data, count: t.count))
            } else {
                var half = [UInt16](repeating: 0, count: t.count)
                ce_quant_f16(&half, t.data, Int64(t.count))
                half.withUnsafeBufferPointer { out.append($0) }
            }
        }
        try AtomicFile.write(out, to: path)
    }
}
