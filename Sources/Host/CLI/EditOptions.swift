import ArgumentParser
import Engine
import Foundation
import Setting
import Support

/// `--edit FILE` (repeatable) and `--trust-edit` for commands that run a model: the edits are
/// applied in the order given, each checked against the model (its base identity, its fields,
/// the tensors its method may change); two edits that change the same tensor or module are
/// refused, since applying one over the other would silently drop the first.
struct EditOptions: ParsableArguments {
    @Option(name: .customLong("edit"), help: "An edit file to apply first (repeatable; applied in order).")
    var edits: [String] = []
    @Flag(name: .customLong("trust-edit"), help: "Apply an edit that changes tensors its method does not change.")
    var trust = false

    /// Applies the edits to `lm`'s model; the session keeps them (and can revert them).
    @discardableResult
    func apply(to lm: LoadedModel) throws -> EditSession? {
        guard !edits.isEmpty else { return nil }
        let session = EditSession(model: lm.model, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 0)
        var owner: [String: String] = [:]  // tensor or module → the edit that changes it
        for path in edits {
            let (info, _) = try EditArtifact.read(path)
            let touched =
                info.adapters.map(\.module) + info.tensors + (info.rows ?? []).map(\.name)
                + (info.sparse ?? []) + (info.senses.isEmpty ? [] : ["backpack.sense_deltas"])
            if let clash = touched.first(where: { owner[$0] != nil }) {
                throw CanonEditError(
                    "\(path) and \(owner[clash]!) both change \(clash); apply one of them, or merge them first")
            }
            let applied = try EditArtifact.apply(path, to: session, trust: trust)
            for t in touched { owner[t] = path }
            let ball = applied.ball ?? "?", epoch = applied.epoch ?? -1
            stderr("edit \(path): \(applied.method), certified in ball \(ball) at epoch \(epoch)")
        }
        return session
    }
}
