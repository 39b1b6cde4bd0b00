import Foundation
import Support

extension Tensor {
    /// FNV-1a over the tensors' fp32 bytes, in order: the checksum stored in edit files,
    /// companion weights and statistics caches.
    public static func checksum(_ ts: [Tensor]) -> String {
        var h = FNV1a()
        for t in ts { h.add(bytes: UnsafeRawBufferPointer(start: t.data, count: t.count * 4)) }
        return h.hex
    }
}
