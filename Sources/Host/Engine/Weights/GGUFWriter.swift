import Foundation
import Kernels
import Support

/// Writes a GGUF v3 file: metadata key/values copied verbatim from a source GGUF (so every key
/// llama.cpp reads keeps its exact type) or built by GGUFMetadata, then the given tensors (2-D
/// ones as F32, F16 or Q8_0, 1-D ones as F32), each aligned to 32 bytes. Tensor shapes are given
/// slowest-first.
public enum GGUFWriter {
    public enum TensorType: String, CaseIterable {
        case f32, f16, q8_0
        var id: UInt32 { self == .f32 ? 0 : self == .f16 ? 1 : 8 }
    }

    public static func write(
        _ tensors: [(String, Tensor)], metadataFrom source: GGUFFile, type: TensorType, to path: String
    ) throws {
        let bytes = try source.file.bytes(
            at: source.metadataBytes.lowerBound, count: source.metadataBytes.count, "metadata of \(source.path)")
        try write(
            tensors, metadata: (Data(bytes), source.metadataCount),
            alignment: source.metadata["general.alignment"]?.int ?? 32, type: type, to: path)
    }

    /// Metadata built by canonedit (GGUFMetadata), default alignment.
    public static func write(
        _ tensors: [(String, Tensor)], metadata: GGUFMetadata, type: TensorType, to path: String
    ) throws {
        try write(tensors, metadata: metadata.encoded, alignment: 32, type: type, to: path)
    }

    static func write(
        _ tensors: [(String, Tensor)], metadata: (bytes: Data, count: Int), alignment: Int, type: TensorType,
        to path: String
    ) throws {
        func le<T: FixedWidthInteger>(_ x: T) -> Data { GGUFMetadata.le(x) }
        func typeOf(_ t: Tensor) -> TensorType {
            t.shape.count >= 2 && (type != .q8_0 || t.cols % 32 == 0) ? type : .f32
        }
        var header = Data("GGUF".utf8) + le(UInt32(3)) + le(UInt64(tensors.count)) + le(UInt64(metadata.count))
        header += metadata.bytes
        var offset = 0
        var payloads: [Data] = []
        for (name, t) in tensors {
            let tt = typeOf(t)
            header += GGUFMetadata.string(name) + le(UInt32(t.shape.count))
            for d in t.shape.reversed() { header += le(UInt64(d)) }  // fastest-first
            header += le(tt.id) + le(UInt64(offset))
            let body = encode(t, tt)
            payloads.append(body)
            offset += (body.count + alignment - 1) / alignment * alignment
        }
        try AtomicFile.write(to: path) { out in
            var h = header
            while h.count % alignment != 0 { h.append(0) }
            try out.write(contentsOf: h)
            for body in payloads {
                var b = body
                while b.count % alignment != 0 { b.append(0) }
                try out.write(contentsOf: b)
            }
        }
    }

    static func encode(_ t: Tensor, _ type: TensorType) -> Data {
        switch type {
        case .f32: return Data(bytes: t.data, count: t.count * 4)
        case .f16:
            var half = [UInt16](repeating: 0, count: t.count)
            ce_quant_f16(&half, t.data, Int64(t.count))
            return half.withUnsafeBytes { Data($0) }
        case .q8_0: return q8_0(t)
        }
    }

    /// Blocks of 32 values: an fp16 scale d = max|x| / 127, then 32 int8 round(x / d).
    static func q8_0(_ t: Tensor) -> Data {
        var out = Data(capacity: t.count / 32 * 34)
        var half: UInt16 = 0
        for b in 0..<(t.count / 32) {
            let x = t.data + b * 32
            var amax: Float = 0
            for i in 0..<32 { amax = max(amax, abs(x[i])) }
            var d = amax / 127
            withUnsafeMutablePointer(to: &d) { ce_quant_f16(&half, $0, 1) }
            out += withUnsafeBytes(of: half.littleEndian) { Data($0) }
            let inv: Float = d == 0 ? 0 : 1 / d
            out += Data((0..<32).map { UInt8(bitPattern: Int8(max(-127, min(127, (x[$0] * inv).rounded())))) })
        }
        return out
    }
}
