import ArgumentParser
import Engine
import Foundation
import PluginHost
import Setting
import Support

/// `--edit FILE` (repeatable), `--compose` and `--trust-edit` for commands that run a model: the
/// edits are applied in the order given, each checked against the model (its base identity, its
/// fields, the tensors its method may change); two edits that change the same tensor or module
/// are refused, since applying one over the other would silently drop the first, unless
/// `--compose add` adds their changes.
struct EditOptions: ParsableArguments {
    @Option(name: .customLong("edit"), help: "An edit file to apply first (repeatable; applied in order).")
    var edits: [String] = []
    @Option(help: "How edits that change the same numbers combine: refuse or add (base + the sum of the changes).")
    var compose: EditComposition = .refuse
    @Flag(
        name: .customLong("trust-edit"),
        help: "Apply an edit that changes tensors its method does not change, or that was made on other weights.")
    var trust = false
    @Option(
        name: .customLong("plugin-path"),
        help: "Extra folder to search for the plugin a hook-based edit (GRACE) runs through (repeatable).")
    var pluginPath: [String] = []

    func validate() throws { try requireFolders(pluginPath, "--plugin-path") }

    /// Applies the edits to `lm`'s model; the session keeps them (and can revert them).
    @discardableResult
    func apply(to lm: LoadedModel) throws -> EditSession? {
        guard !edits.isEmpty else { return nil }
        let session = EditSession(model: lm.model, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 0)
        session.modelPath = lm.path
        let paths = pluginPath
        EditPolicy.install(on: session, pluginPaths: paths)
        let stack = EditStack(session: session, composition: compose)
        for path in edits {
            let applied = try stack.apply(path, trust: trust)
            let ball = applied.ball ?? "?", epoch = applied.epoch ?? -1
            let when = applied.sequential_steps.map { "after edit \($0) of a sequential run" } ?? "at epoch \(epoch)"
            stderr("edit \(path): \(applied.method), certified in ball \(ball) \(when)")
        }
        if edits.count > 1 {
            stderr("the \(edits.count) edits were certified one by one; together they are not (see general-loss)")
        }
        return session
    }
}

extension EditComposition: ExpressibleByArgument {}
