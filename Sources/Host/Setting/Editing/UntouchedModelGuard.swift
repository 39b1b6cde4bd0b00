import Engine
import Foundation
import Support

/// What a method's `prepare` may do to the model: choose tensors (whose originals the session
/// keeps) and attach adapters. The guard fingerprints every parameter before `prepare` and
/// refuses a method that changed one it did not select, because the unedited model could then
/// no longer be run (the KL reference, locality, revert) and no ball could be decided. A weight
/// still in its stored format cannot have changed; one decoded since is compared with its file.
public struct UntouchedModelGuard {
    let fingerprints: [ObjectIdentifier: UInt64]

    public init(_ model: CausalLM) {
        var f: [ObjectIdentifier: UInt64] = [:]
        for p in model.parameters where p.value.isMaterialized { f[ObjectIdentifier(p)] = Self.fingerprint(p.value) }
        fingerprints = f
    }

    func unchanged(_ p: Parameter) -> Bool {
        if let before = fingerprints[ObjectIdentifier(p)] { return before == Self.fingerprint(p.value) }
        guard p.value.isMaterialized, let stored = p.value.stored else { return true }
        let fresh = Tensor(p.value.shape)
        stored.decode(rows: 0..<stored.rows, into: fresh.data)
        return memcmp(fresh.data, p.value.data, fresh.count * 4) == 0
    }

    /// Throws naming the first parameter that changed without being selected for training.
    /// `stage` names where the method ran: prepare, update (an epoch of training) or apply.
    public func check(_ session: EditSession, method: String, stage: String = "prepare") throws {
        let selected = Set(session.trained.map(ObjectIdentifier.init))
        for p in session.model.parameters where !selected.contains(ObjectIdentifier(p)) {
            guard unchanged(p) else {
                throw CanonEditError(
                    "method \(method) changed \(p.name) in \(stage) without selecting it for training; "
                        + "a method may change only the tensors it trains (train_param, train_rows) or adapters")
            }
        }
    }

    /// FNV-1a over 64-bit words (fast enough for every weight of a model).
    static func fingerprint(_ t: Tensor) -> UInt64 {
        var h = FNV1a()
        let words = t.count / 2
        t.data.withMemoryRebound(to: UInt64.self, capacity: max(words, 1)) { w in
            for i in 0..<words { h.add(word: w[i]) }
        }
        if t.count % 2 == 1 { h.add(word: UInt64(t.data[t.count - 1].bitPattern)) }
        return h.value
    }
}

extension EditSession {
    /// Whether the edited model may compute something else than the unedited one: a trained
    /// tensor differs from its original, or an adapter, sense delta or residual delta is not
    /// zero, or a hook is on a block's output. False right after a `prepare` that only selected
    /// and zero-initialised things.
    public var differsFromOriginal: Bool {
        for p in trained {
            if let o = original(of: p), memcmp(o.data, p.value.data, o.count * 4) != 0 { return true }
        }
        for p in trained where !(changedEntries(of: p)?.isEmpty ?? true) { return true }
        for lin in model.linears {
            guard let a = lin.slot.adapter, a.scale != 0 else { continue }
            if !isZero(a.A.value) && !isZero(a.B.value) { return true }
        }
        if let d = (model as? BackpackLM)?.senseDeltas.delta, !isZero(d.value) { return true }
        if let r = (model as? DecoderLM)?.residualDelta, !isZero(r.value.value) { return true }
        // What a hook does cannot be read off its tensors.
        return hasHooks
    }

    private func isZero(_ t: Tensor) -> Bool { (0..<t.count).allSatisfy { t.data[$0] == 0 } }
}
