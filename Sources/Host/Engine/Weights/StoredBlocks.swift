import Foundation
import Support

/// A 2-D weight left in its file's format (F16, BF16, Q8_0, Q4_0, … K-quants), mapped from the
/// file: `rows` rows of `cols` values, `rowBytes` bytes each. It decodes rows on demand; the file
/// stays mapped as long as the blocks are (`owner`).
public final class StoredBlocks {
    public let type: GGMLType
    public let rows: Int, cols: Int, rowBytes: Int
    let base: UnsafePointer<UInt8>
    let owner: AnyObject

    /// Whether weights stay in their stored format until used; CANONEDIT_FP32_WEIGHTS=1 decodes
    /// every tensor to fp32 on load instead (read once, at the first load).
    public static let enabled = ProcessInfo.processInfo.environment["CANONEDIT_FP32_WEIGHTS"] != "1"

    init?(type: GGMLType, rows: Int, cols: Int, base: UnsafePointer<UInt8>, owner: AnyObject) {
        guard cols % type.blockValues == 0, let rowBytes = type.byteCount(cols) else { return nil }
        (self.type, self.rows, self.cols, self.rowBytes, self.base, self.owner) = (
            type, rows, cols, rowBytes, base, owner
        )
    }

    /// A (rows, cols) tensor left in `type` in the mapped `bytes` of `file`, or nil when its rows
    /// are not whole blocks (the caller then decodes it).
    static func tensor(
        _ shape: [Int], type: GGMLType, bytes: UnsafeRawBufferPointer, file: MappedFile
    ) -> Tensor? {
        guard enabled, shape.count == 2,
            let blocks = StoredBlocks(
                type: type, rows: shape[0], cols: shape[1],
                base: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), owner: file)
        else { return nil }
        return Tensor(shape, stored: blocks)
    }

    /// Bytes the stored blocks occupy.
    public var bytes: Int { rows * rowBytes }

    /// Rows `r` decoded into `dst` (r.count, cols).
    public func decode(rows r: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        type.decode(dst, base + r.lowerBound * rowBytes, Int64(r.count * cols))
    }
}
