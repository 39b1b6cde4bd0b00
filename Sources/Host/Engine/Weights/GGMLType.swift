import Kernels

/// The ggml tensor types canonedit reads: values per block, bytes per block, and the kernel
/// that decodes blocks to fp32 (Kernels/dequant.c, dequant_k.c). Ids are ggml's.
public struct GGMLType {
    public let id: UInt32
    public let name: String
    public let blockValues: Int
    public let blockBytes: Int
    let decode: (UnsafeMutablePointer<Float>, UnsafePointer<UInt8>, Int64) -> Void

    public static let all: [GGMLType] = [
        GGMLType(id: 0, name: "F32", blockValues: 1, blockBytes: 4) { dst, src, n in
            UnsafeRawPointer(src).withMemoryRebound(to: Float.self, capacity: Int(n)) {
                dst.update(from: $0, count: Int(n))
            }
        },
        GGMLType(id: 1, name: "F16", blockValues: 1, blockBytes: 2) { dst, src, n in
            UnsafeRawPointer(src).withMemoryRebound(to: UInt16.self, capacity: Int(n)) { ce_dequant_f16(dst, $0, n) }
        },
        GGMLType(id: 30, name: "BF16", blockValues: 1, blockBytes: 2) { dst, src, n in
            UnsafeRawPointer(src).withMemoryRebound(to: UInt16.self, capacity: Int(n)) { ce_dequant_bf16(dst, $0, n) }
        },
        GGMLType(id: 2, name: "Q4_0", blockValues: 32, blockBytes: 18, decode: ce_dequant_q4_0),
        GGMLType(id: 3, name: "Q4_1", blockValues: 32, blockBytes: 20, decode: ce_dequant_q4_1),
        GGMLType(id: 6, name: "Q5_0", blockValues: 32, blockBytes: 22, decode: ce_dequant_q5_0),
        GGMLType(id: 7, name: "Q5_1", blockValues: 32, blockBytes: 24, decode: ce_dequant_q5_1),
        GGMLType(id: 8, name: "Q8_0", blockValues: 32, blockBytes: 34, decode: ce_dequant_q8_0),
        GGMLType(id: 10, name: "Q2_K", blockValues: 256, blockBytes: 84, decode: ce_dequant_q2_k),
        GGMLType(id: 11, name: "Q3_K", blockValues: 256, blockBytes: 110, decode: ce_dequant_q3_k),
        GGMLType(id: 12, name: "Q4_K", blockValues: 256, blockBytes: 144, decode: ce_dequant_q4_k),
        GGMLType(id: 13, name: "Q5_K", blockValues: 256, blockBytes: 176, decode: ce_dequant_q5_k),
        GGMLType(id: 14, name: "Q6_K", blockValues: 256, blockBytes: 210, decode: ce_dequant_q6_k),
    ]

    public static func of(_ id: UInt32) -> GGMLType? { all.first { $0.id == id } }

    /// Bytes that `count` values occupy, nil when `count` is not a whole number of blocks.
    public func byteCount(_ count: Int) -> Int? {
        count % blockValues == 0 ? count / blockValues * blockBytes : nil
    }
}
