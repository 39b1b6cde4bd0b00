import Engine
import Foundation
import Support

/// Checks every field of an edit's metadata against the model before anything is applied:
/// shapes, token ids and senses in range, modules that exist, and which tensors the named
/// method may change at all. An edit from someone else is as trusted as a plugin; this keeps a
/// malformed or mislabelled one from crashing the tool or quietly rewriting unrelated weights.
enum EditValidation {
    /// Edits the host itself writes when it imports a PEFT adapter or a finetuned folder, and
    /// what they may change: an imported adapter no model tensor, an imported folder any.
    public static let importedPEFT = "import-peft", importedFolder = "import-hf"

    static func check(
        _ info: EditArtifact.Info, file f: SafetensorsFile, model: CausalLM, path: String, trust: Bool,
        methodChanges: ((EditArtifact.Info) throws -> (String) -> Bool)?
    )
        throws
    {
        func fail(_ what: String) -> CanonEditError { CanonEditError("\(path): \(what)") }
        for a in info.adapters {
            guard let lin = model.linears.first(where: { $0.name == a.module }) else {
                throw fail("adapter on \(a.module), which this model does not have")
            }
            guard (1...(1 << 16)).contains(a.rank), a.scale.isFinite,
                f.shape(of: a.module + ".lora_A.weight") == [a.rank, lin.inFeatures],
                f.shape(of: a.module + ".lora_B.weight") == [lin.outFeatures, a.rank]
            else { throw fail("the adapter on \(a.module) (rank \(a.rank)) does not fit \(lin.weight.value.shape)") }
        }
        if !info.senses.isEmpty {
            guard let bp = model as? BackpackLM else { throw fail("a sense edit needs a Backpack model") }
            for pair in info.senses {
                guard pair.count == 2, (0..<bp.vocabSize).contains(pair[0]), (0..<bp.numSenses).contains(pair[1]) else {
                    throw fail("sense pair \(pair) is not a (token < \(bp.vocabSize), sense < \(bp.numSenses)) pair")
                }
            }
            guard f.shape(of: "backpack.sense_deltas") == [info.senses.count, bp.C] else {
                throw fail("backpack.sense_deltas does not hold one vector of \(bp.C) per sense pair")
            }
        }
        let changed = info.tensors + (info.rows ?? []).map(\.name) + (info.sparse ?? [])
        let mayChange: (String) -> Bool
        switch info.method {
        case importedFolder: mayChange = { _ in true }
        case importedPEFT: mayChange = { _ in false }
        default: mayChange = changed.isEmpty || trust ? { _ in false } : try methodChanges?(info) ?? { _ in false }
        }
        for name in changed {
            guard let p = model.parameter(name) else { throw fail("the model has no parameter \(name)") }
            if info.tensors.contains(name), f.shape(of: name) != p.value.shape {
                throw fail("\(name) is stored as \(f.shape(of: name) ?? []), the model's is \(p.value.shape)")
            }
            let allowed = mayChange(name)
            guard allowed || trust else {
                throw fail(
                    "an edit of method \(info.method) that changes \(name) directly; the \(info.method) plugin does "
                        + "not describe itself as changing that tensor (or was not found). Apply it with --trust-edit "
                        + "if you trust where the file came from")
            }
        }
    }
}
