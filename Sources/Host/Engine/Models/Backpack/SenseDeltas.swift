import Foundation
import Kernels
import Support

/// Trainable deltas on chosen (token, sense) vectors: senses[token][ℓ] += delta[i]. The
/// deltas start at zero; everything else in the model can stay frozen.
public final class SenseDeltas {
    public private(set) var index: [Int: Int] = [:]  // token·65536 + sense → row
    public private(set) var pairs: [(token: Int32, sense: Int)] = []
    public private(set) var delta: Parameter?
    public var enabled = true
    /// Deltas of earlier edits of a sequential run, still added, no longer trained.
    public private(set) var earlier: [(index: [Int: Int], delta: Parameter)] = []

    /// Chooses the pairs to edit; the delta tensor (pairs, C) is zero and trainable. Choosing
    /// none removes every delta, earlier ones included.
    public func select(_ chosen: [(token: Int32, sense: Int)], C: Int, name: String = "backpack.sense_deltas") {
        pairs = chosen
        index = [:]
        for (i, p) in chosen.enumerated() { index[Int(p.token) * 65536 + p.sense] = i }
        delta = chosen.isEmpty ? nil : Parameter(name, Tensor([chosen.count, C]))
        if chosen.isEmpty { earlier.removeAll() }
    }

    /// Keeps the current deltas as they are (added, not trained), so the next edit of a
    /// sequential run can choose its own.
    public func freeze() {
        guard let delta else { return }
        delta.requiresGrad = false
        earlier.append((index, delta))
        (self.delta, pairs, index) = (nil, [], [:])
    }

    /// Earlier edits' deltas and the current one, in the order they were made.
    var layers: [(index: [Int: Int], delta: Parameter)] { earlier + (delta.map { [(index, $0)] } ?? []) }

    /// Every delta, earlier edits' included, as one set: the pairs and, per pair, the sum.
    public func combined(C: Int) -> (pairs: [(token: Int32, sense: Int)], delta: Tensor)? {
        let layers = layers
        guard !layers.isEmpty else { return nil }
        let keys = Array(Set(layers.flatMap { $0.index.keys })).sorted()
        let out = Tensor([keys.count, C])
        for (k, key) in keys.enumerated() {
            for layer in layers {
                if let i = layer.index[key] { ce_add(out.data + k * C, layer.delta.value.data + i * C, Int64(C)) }
            }
        }
        return (keys.map { (Int32($0 / 65536), $0 % 65536) }, out)
    }

    func add(into S: UnsafeMutablePointer<Float>, tokens: [Int32], senses k: Int, C: Int) {
        guard enabled else { return }
        let layers = layers
        guard !layers.isEmpty else { return }
        // A pair several edits changed gets their sum first, then added: what the combined set of
        // an edit file adds (one edit's delta is added as it is, as 0 + d = d).
        let sum = UnsafeMutablePointer<Float>.allocate(capacity: C)
        defer { sum.deallocate() }
        for (n, t) in tokens.enumerated() {
            for l in 0..<k {
                let key = Int(t) * 65536 + l
                var first: UnsafePointer<Float>? = nil, summed = false
                for layer in layers {
                    guard let i = layer.index[key] else { continue }
                    let row = UnsafePointer(layer.delta.value.data + i * C)
                    if let f = first {
                        if !summed { sum.update(from: f, count: C); summed = true }
                        ce_add(sum, row, Int64(C))
                    } else {
                        first = row
                    }
                }
                if let first { ce_add(S + (n * k + l) * C, summed ? UnsafePointer(sum) : first, Int64(C)) }
            }
        }
    }

    func backward(_ dS: UnsafePointer<Float>, tokens: [Int32], senses k: Int, C: Int) {
        guard enabled, let delta, let g = delta.activeGrad else { return }
        for (n, t) in tokens.enumerated() {
            for l in 0..<k {
                if let i = index[Int(t) * 65536 + l] { ce_add(g + i * C, dS + (n * k + l) * C, Int64(C)) }
            }
        }
    }
}
