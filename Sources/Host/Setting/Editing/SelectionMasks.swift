import Engine
import Foundation
import Support

/// Selections smaller than a whole tensor: some entries of a linear layer's weight (only their
/// originals kept) or some rows of a tensor (the other rows' gradients zeroed before updates).
extension EditSession {
    /// Trains only these entries (flat indices) of a linear layer's weight. Only their original
    /// values are kept, and the gradient and Adam state hold one value per entry, so a sparse
    /// edit of a large matrix costs memory in proportion to its entries, not to the matrix.
    public func train(_ p: Parameter, entries: [Int]) throws {
        guard model.linears.contains(where: { $0.weight === p }) else {
            throw CanonEditError("entries can be selected in a linear layer's weight; \(p.name) is not one")
        }
        let id = ObjectIdentifier(p)
        guard snapshots[id] == nil, entryOriginals[id] == nil else {
            throw CanonEditError("\(p.name) is already selected; select its entries once")
        }
        let sorted = Array(Set(entries)).sorted()
        guard let first = sorted.first, first >= 0, sorted.last! < p.value.count else {
            throw CanonEditError("entries of \(p.name) must be 0..<\(p.value.count), at least one")
        }
        entryOriginals[id] = sorted.map { p.value.data[$0] }
        p.entries = sorted
        p.requiresGrad = true
        p.isEdited = true
        trained.append(p)
    }

    /// The entries of an entry-selected tensor whose value differs from the original (bit for
    /// bit), ascending; nil for a tensor not selected by entries.
    public func changedEntries(of p: Parameter) -> [Int]? {
        guard let e = p.entries, let o = entryOriginals[ObjectIdentifier(p)] else { return nil }
        return zip(e, o).filter { p.value.data[$0.0].bitPattern != $0.1.bitPattern }.map(\.0)
    }

    /// Exchanges the entry-selected tensors' entries with their originals (twice: back).
    func swapEntries() {
        for p in trained {
            guard let e = p.entries, var o = entryOriginals[ObjectIdentifier(p)] else { continue }
            for (k, i) in e.enumerated() { swap(&p.value.data[i], &o[k]) }
            entryOriginals[ObjectIdentifier(p)] = o
        }
    }

    /// Trains only some rows (first dimension) of a tensor: the others' gradients are zeroed
    /// before every update, so they never move.
    public func train(_ p: Parameter, rows: [Int]) {
        train(p)
        rowMasks[ObjectIdentifier(p), default: []] += rows
    }

    /// The rows a row-restricted tensor trains (sorted, unique), or nil for a whole tensor.
    public func rows(of p: Parameter) -> [Int]? {
        rowMasks[ObjectIdentifier(p)].map { Array(Set($0)).sorted() }
    }

    /// Zeroes the gradient outside each row-restricted tensor's rows.
    public func applyRowMasks() {
        for p in trained {
            guard let rows = rowMasks[ObjectIdentifier(p)], let g = p.grad else { continue }
            let keep = Set(rows), width = p.value.count / p.value.shape[0]
            for r in 0..<p.value.shape[0] where !keep.contains(r) {
                (g.data + r * width).update(repeating: 0, count: width)
            }
        }
    }
}
