import Engine
import Foundation
import Support

/// How edits that change the same numbers combine when several are applied to one model.
public enum EditComposition: String, CaseIterable, Sendable {
    /// Refuse: applying one over the other would silently drop the first.
    case refuse
    /// Add the changes: base + Σ (editᵢ − base).
    case add
}

/// Edit files applied one after another to one session. Every edit is checked against the
/// model as it was before the first (its identity and tensors), not against the model the
/// earlier edits made. With `.add`, a tensor an earlier edit changed is put back to its
/// original before the next edit writes it, and the earlier change added back after; an
/// adapter on a module that receives a second one is first folded into its weight
/// (W + scale · B A), which is the same function.
public final class EditStack {
    public let session: EditSession
    public let composition: EditComposition
    private let baseIdentity: String
    private var owner: [String: String] = [:]  // tensor or module → the edit that changed it

    public init(session: EditSession, composition: EditComposition) {
        self.session = session
        self.composition = composition
        baseIdentity = ModelIdentity.of(session.model)
    }

    @discardableResult
    public func apply(_ path: String, trust: Bool) throws -> EditArtifact.Info {
        let file = try EditArtifact.read(path)
        let info = file.0
        try EditArtifact.checkBase(info, identity: baseIdentity, path: path)
        try EditArtifact.checkWeights(info, modelPath: session.modelPath, path: path, trust: trust)
        let adapters = info.adapters.map(\.module)
        let tensors = info.tensors + (info.rows ?? []).map(\.name) + (info.sparse ?? [])
        let senses = info.senses.isEmpty ? [] : ["backpack.sense_deltas"]
        let touched = adapters + tensors + senses
        if let clash = touched.first(where: { owner[$0] != nil }) {
            guard composition == .add else {
                throw CanonEditError(
                    "\(path) and \(owner[clash]!) both change \(clash); apply one of them, merge them first, "
                        + "or add them with --compose add")
            }
            if let s = senses.first, owner[s] != nil {
                throw CanonEditError("\(path) and \(owner[s]!) both change Backpack sense vectors, which do not add")
            }
        }
        for module in adapters where owner[module] != nil { try foldAdapter(module) }
        // Earlier changes to the tensors this edit writes (empty unless they clash, with .add).
        var earlier: [(Parameter, Tensor)] = []
        for name in tensors {
            guard let p = session.model.parameter(name), let original = session.original(of: p) else { continue }
            let change = p.value.clone()  // shape of p
            for i in 0..<change.count { change.data[i] -= original.data[i] }
            earlier.append((p, change))
            p.value.copy(from: original)
        }
        let applied = try EditArtifact.apply(file, path: path, to: session, trust: trust)
        for (p, change) in earlier {
            for i in 0..<change.count { p.value.data[i] += change.data[i] }
        }
        for t in touched { owner[t] = path }
        return applied
    }

    /// Moves the adapter on `module` into its weight, so another adapter can take its place.
    private func foldAdapter(_ module: String) throws {
        guard let lin = session.model.linears.first(where: { $0.name == module }), let a = lin.slot.adapter else {
            return
        }
        session.train(lin.weight)  // keeps the original weight, for revert and later edits
        lin.weight.requiresGrad = false
        a.fold(into: lin.weight.value)
        lin.slot.adapter = nil
        owner[lin.weight.name] = owner[module]
    }
}
