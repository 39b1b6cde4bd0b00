// ROME (Meng et al. 2022, "Locating and Editing Factual Associations in GPT"): one rank-one
// update of one MLP output projection per edit. The key k̄ is the projection's input at the
// subject's last token averaged over random prefixes; the value v* is found by optimising a
// vector added to the residual stream there (the same search as MEMIT's, with ROME's looser
// clamp); the insertion ΔW = (v* − W k)(C⁻¹k̄)ᵀ / ((C⁻¹k̄)ᵀ k) makes the prompt's own key k map to
// v* exactly and leaves keys C-orthogonal to k̄ alone (C: the keys' second moment on a corpus).
// Several canonical examples are inserted one after another, each on the model the earlier
// ones left, as ROME's own code does.
import Glibc
import LocateEdit
import PluginAPI
import PluginKit

final class ROME {}

/// The default layer: GPT-J's layer 5 of 28 as a share of depth.
func defaultLayer(_ layers: Int) -> Int { min(layers - 1, Int((0.18 * Double(layers)).rounded())) }

func romeLayer(_ text: String, count: Int) throws -> Int {
    if text.isEmpty { return defaultLayer(count) }
    let layers = try parseLayers(text, count: count)
    guard layers.count == 1 else {
        throw PluginError(CE_ERR_INVALID_ARGUMENT, "rome edits one layer; layers \"\(text)\" names \(layers.count)")
    }
    return layers[0]
}

private let descriptor = makeDescriptor(
    id: "rome", version: "1.0.0", description: "ROME: a rank-one edit of one MLP output projection per example",
    capabilities: UInt64(CE_CAP_CLOSED_FORM) | UInt64(CE_CAP_NEEDS_ACTIVATIONS),
    hyperparameters: locateEditHyperparameters(
        layersHelp: "the edited layer, e.g. 5; empty: about 18% of depth", steps: 20, lr: 0.5, clamp: 4,
        clampSweep: 0.5...10, method: [], statistics: [ridgeHyperparameter], templates: 5),
    create: { hostPtr, out in Host(hostPtr).guarded { Instance.store(ROME(), out) } },
    prepare: nil, update: nil,
    apply: { _, hostPtr in
        let host = Host(hostPtr)
        return host.guarded {
            let lh = try LocatingHost(host, method: "ROME")
            let info = try host.modelInfo()
            let C = lh.hidden
            let layer = try romeLayer(try host.string("layers"), count: Int(info.layer_count))
            let (corpus, tokens) = try statisticsCorpus(host, method: "rome")
            let templates = try lh.contextTemplates(
                count: Int(try host.number("context_templates")), length: Int(try host.number("context_length")))
            let module = try lh.mlpOutput(layer)
            let w = try lh.trainedWeight(module)
            let F = Int(w.shape.1)
            var moment = try lh.secondMoment(module, features: F, corpus: corpus, tokens: tokens)
            addRidge(&moment, features: F, ridge: try host.number("mom2_ridge"))
            let search = try TargetSearch(lh, layer: layer, method: "rome")
            var inserted = 0
            for e in 0..<host.exampleCount {
                guard let target = try search.target(example: e, templates: templates) else { continue }
                let averaged = try lh.keys(module, features: F, edits: [target], templates: templates)
                let key = try lh.keys(module, features: F, edits: [target], templates: [[]])
                var u = averaged
                try lh.solve(moment, &u, n: F, m: 1)  // C⁻¹ k̄
                let (missing, before) = try lh.missing([target], layer: layer)
                let dW = romeUpdate(direction: u, key: key, missing: missing)
                for i in 0..<C * F { w.data[i] += dW[i] }
                let after = try lh.missing([target], layer: layer).distance
                host.log("rome: example \(e) inserted at \(module); distance to target \(before) -> \(after)")
                inserted += 1
            }
            if inserted == 0 { throw PluginError(CE_ERR_INVALID_ARGUMENT, "no usable edits") }
        }
    },
    destroy: { Instance.release($0, as: ROME.self) },
    describe: { raw in
        Outline.run(raw) { o in
            let layer = try romeLayer(try o.string("layers"), count: Int(try o.modelInfo().layer_count))
            // The key second moment (F, F) and the solve's double copy of it.
            try describeLocateEdit(o, layers: [layer], holding: "the edited MLP output matrix, key statistics") {
                F in F * F * 4 + F * F * 8
            }
        }
    },
    learningRateSweep: 1...1)  // closed form: the training loop's rate is not used

@_cdecl("canonedit_plugin_entry")
public func canoneditPluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafePointer<ce_plugin_descriptor>? {
    major == CE_API_MAJOR ? descriptor : nil
}
