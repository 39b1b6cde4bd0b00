import Foundation
import Kernels
import Support

/// A dense fp32 array with a shape, row-major, 64-byte aligned. It owns its memory. A frozen
/// weight may instead keep its file's stored format (`stored`): its fp32 values are made on the
/// first use of `data` (training it, exporting it), and matrix products read the stored blocks.
public final class Tensor {
    public let shape: [Int]
    public let count: Int
    private var storage: UnsafeMutablePointer<Float>?
    /// The weight file's blocks this tensor was read from, while it has no fp32 copy of them.
    public let stored: StoredBlocks?

    /// The fp32 values (decoded from `stored` on first use).
    public var data: UnsafeMutablePointer<Float> { storage ?? materialize() }
    /// False while the values exist only in their stored format.
    public var isMaterialized: Bool { storage != nil }
    /// The stored blocks while they are the only copy of the values (products then read them).
    public var unmaterialized: StoredBlocks? { storage == nil ? stored : nil }

    /// Zero-filled.
    public init(_ shape: [Int]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        self.shape = shape
        count = shape.reduce(1, *)
        stored = nil
        storage = Self.allocate(count, shape)
    }

    /// Values kept in a weight file's format; (rows, cols) of `blocks` is the shape.
    public init(_ shape: [Int], stored blocks: StoredBlocks) {
        precondition(shape.count == 2 && shape[0] == blocks.rows && shape[1] == blocks.cols, "\(shape) vs blocks")
        self.shape = shape
        count = shape.reduce(1, *)
        stored = blocks
    }

    static func allocate(_ count: Int, _ shape: [Int]) -> UnsafeMutablePointer<Float> {
        var raw: UnsafeMutableRawPointer?
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else { fatalError("out of memory allocating \(shape)") }
        memset(raw, 0, bytes)
        return raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// The first n values, without decoding the rest of a stored tensor.
    public func leadingValues(_ n: Int) -> [Float] {
        let n = min(n, count)
        guard let stored = unmaterialized, shape.count == 2, shape[1] > 0 else { return Array(buffer.prefix(n)) }
        let rows = (n + shape[1] - 1) / shape[1]
        let tmp = Tensor([rows, shape[1]])
        stored.decode(rows: 0..<rows, into: tmp.data)
        return Array(tmp.buffer.prefix(n))
    }

    private func materialize() -> UnsafeMutablePointer<Float> {
        let p = Self.allocate(count, shape)
        stored?.decode(rows: 0..<shape[0], into: p)
        storage = p
        return p
    }

    public convenience init(_ shape: [Int], values: [Float]) {
        self.init(shape)
        precondition(values.count == count, "\(values.count) values for shape \(shape)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    deinit { free(storage) }

    /// Exchanges contents with a tensor of the same shape in O(1) (used to run the
    /// unedited model: trained values and their snapshot trade places and back).
    public func swapStorage(with other: Tensor) {
        precondition(other.shape == shape, "swapStorage needs equal shapes: \(shape) vs \(other.shape)")
        _ = data
        _ = other.data
        swap(&storage, &other.storage)
    }

    public var rows: Int { shape.count >= 2 ? count / shape.last! : 1 }
    public var cols: Int { shape.last ?? 1 }
    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: data, count: count) }
    public var array: [Float] { Array(buffer) }
    public func zero() { memset(data, 0, count * MemoryLayout<Float>.stride) }
    public func copy(from other: Tensor) {
        precondition(other.count == count)
        data.update(from: other.data, count: count)
    }
    public func clone() -> Tensor { let t = Tensor(shape); t.copy(from: self); return t }
    public func fill(_ x: Float) { data.update(repeating: x, count: count) }
    /// A copy with every value rounded to fp16 and back (what an F16 file stores).
    public func roundedToHalf() -> Tensor {
        let t = Tensor(shape), half = UnsafeMutablePointer<UInt16>.allocate(capacity: max(count, 1))
        defer { half.deallocate() }
        ce_quant_f16(half, data, Int64(count))
        ce_dequant_f16(t.data, UnsafeRawPointer(half).assumingMemoryBound(to: UInt8.self), Int64(count))
        return t
    }
    public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }
}

/// A named trainable tensor. Its name is the Hugging Face module path
/// (`model.layers.12.mlp.down_proj.weight`), so configs written for the authors' code match.
public final class Parameter {
    public let name: String
    public let value: Tensor
    /// Allocated on first use by `ensureGrad()`.
    public private(set) var grad: Tensor?
    public var requiresGrad: Bool
    /// Set while an edit has selected this tensor (trained or written in closed form): its
    /// values may differ from the unedited model's, so nothing computed from them is reused.
    public var isEdited = false
    /// Set when only these entries (flat indices, sorted) train: the gradient then holds one
    /// value per entry, in this order, and the dense kernels leave it alone (a linear layer's
    /// backward computes it entry by entry).
    public var entries: [Int]? {
        didSet { grad = nil }
    }

    public init(_ name: String, _ value: Tensor, requiresGrad: Bool = true) {
        self.name = name
        self.value = value
        self.requiresGrad = requiresGrad
    }

    /// The gradient buffer when this parameter is being trained, else nil.
    public var activeGrad: UnsafeMutablePointer<Float>? { requiresGrad && entries == nil ? ensureGrad().data : nil }

    /// The selected entries' values (entries.count), in the order of `entries`.
    public func entryValues() -> Tensor {
        let e = entries ?? []
        return Tensor([e.count], values: e.map { value.data[$0] })
    }

    /// Writes `values` (entries.count) back into the selected entries.
    public func setEntryValues(_ values: Tensor) {
        for (k, i) in (entries ?? []).enumerated() { value.data[i] = values.data[k] }
    }

    /// The per-entry gradient (entries.count) while only some entries train, else nil.
    public var activeEntryGrad: UnsafeMutablePointer<Float>? {
        requiresGrad && entries != nil ? ensureGrad().data : nil
    }

    @discardableResult public func ensureGrad() -> Tensor {
        if let grad { return grad }
        let g = Tensor(entries.map { [$0.count] } ?? value.shape)
        grad = g
        return g
    }
    public func dropGrad() { grad = nil }
}

extension Tensor {
    /// The transpose of a 2-D tensor, as a new tensor.
    public func transposed() -> Tensor {
        precondition(shape.count == 2, "transposed() needs a 2-D tensor, got \(shape)")
        let (r, c) = (shape[0], shape[1])
        let out = Tensor([c, r])
        for i in 0..<r { for j in 0..<c { out.data[j * r + i] = data[i * c + j] } }
        return out
    }
}
