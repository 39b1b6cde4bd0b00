import Kernels

/// The ggml tensor types canonedit reads: values per block and bytes per block. Their decoders
/// come from the kernels' one table (`ce_dequant_for_type`, Kernels/dequant.c, dequant_k.c).
/// Ids are ggml's.
public struct GGMLType {
    public let id: UInt32
    public let name: String
    public let blockValues: Int
    public let blockBytes: Int
    /// Decodes n values (whole blocks) from bytes at any alignment.
    let kernel: ce_dequant_fn

    init(id: UInt32, name: String, blockValues: Int, blockBytes: Int) {
        (self.id, self.name, self.blockValues, self.blockBytes) = (id, name, blockValues, blockBytes)
        kernel = ce_dequant_for_type(Int32(id))!
    }

    public static let all: [GGMLType] = [
        GGMLType(id: 0, name: "F32", blockValues: 1, blockBytes: 4),
        GGMLType(id: 1, name: "F16", blockValues: 1, blockBytes: 2),
        GGMLType(id: 30, name: "BF16", blockValues: 1, blockBytes: 2),
        GGMLType(id: 2, name: "Q4_0", blockValues: 32, blockBytes: 18),
        GGMLType(id: 3, name: "Q4_1", blockValues: 32, blockBytes: 20),
        GGMLType(id: 6, name: "Q5_0", blockValues: 32, blockBytes: 22),
        GGMLType(id: 7, name: "Q5_1", blockValues: 32, blockBytes: 24),
        GGMLType(id: 8, name: "Q8_0", blockValues: 32, blockBytes: 34),
        GGMLType(id: 10, name: "Q2_K", blockValues: 256, blockBytes: 84),
        GGMLType(id: 11, name: "Q3_K", blockValues: 256, blockBytes: 110),
        GGMLType(id: 12, name: "Q4_K", blockValues: 256, blockBytes: 144),
        GGMLType(id: 13, name: "Q5_K", blockValues: 256, blockBytes: 176),
        GGMLType(id: 14, name: "Q6_K", blockValues: 256, blockBytes: 210),
    ]

    public static func of(_ id: UInt32) -> GGMLType? { all.first { $0.id == id } }

    /// Bytes that `count` values occupy, nil when `count` is not a whole number of blocks.
    public func byteCount(_ count: Int) -> Int? {
        count % blockValues == 0 ? count / blockValues * blockBytes : nil
    }

    /// n values decoded from `src` into `dst`.
    func decode(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<UInt8>, _ n: Int64) { kernel(dst, src, n) }
}
