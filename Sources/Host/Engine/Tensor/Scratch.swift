import Foundation
import Support

/// A set of named buffers that keep their memory between calls of the same size, so the
/// hot loop does not allocate. A buffer is re-made only when a larger one is asked for.
final class Scratch {
    private var buffers: [String: Tensor] = [:]

    /// A buffer of at least `count` floats. Contents are whatever the last user left.
    func get(_ name: String, _ count: Int) -> UnsafeMutablePointer<Float> {
        if let t = buffers[name], t.count >= count { return t.data }
        let t = Tensor([count])
        buffers[name] = t
        return t.data
    }

    /// Same, zero-filled.
    func zeroed(_ name: String, _ count: Int) -> UnsafeMutablePointer<Float> {
        let p = get(name, count)
        p.update(repeating: 0, count: count)
        return p
    }
}
