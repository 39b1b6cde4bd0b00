// MEMIT (Meng et al. 2023) as the paper's baseline: for each edit, find a target
// residual state z at the subject's last token of the critical layer by optimising a vector
// added there (task loss over random prefixes, KL on the subject, norm clamp), then spread
// the change over the MLP output projections of the edited layers in closed form using the
// second moment of their keys over a general corpus: ΔW = R Kᵀ (λ C + K Kᵀ)⁻¹.
import Glibc
import LocateEdit
import PluginAPI
import PluginKit

final class MEMIT {}

private let descriptor = makeDescriptor(
    id: "memit", version: "1.0.0", description: "MEMIT: closed-form multi-layer edits of MLP output projections",
    capabilities: UInt64(CE_CAP_CLOSED_FORM) | UInt64(CE_CAP_NEEDS_ACTIVATIONS),
    hyperparameters: locateEditHyperparameters(
        layersHelp: "edited layers, e.g. 3-8; empty: about 11–29% of depth", steps: 20, lr: 0.5, clamp: 0.75,
        clampSweep: 0.045...0.98,
        method: [
            hyperparameter(
                "mom2_update_weight", CE_HP_FLOAT, min: 0, max: 1e9, default: 15000, sweep: 9371...74288,
                logScale: true, help: "λ, the weight of the key covariance")
        ],
        statistics: [ridgeHyperparameter], templates: 5),
    create: { hostPtr, out in Host(hostPtr).guarded { Instance.store(MEMIT(), out) } },
    prepare: nil, update: nil,
    apply: { _, hostPtr in
        let host = Host(hostPtr)
        return host.guarded {
            let lh = try LocatingHost(host, method: "MEMIT")
            let info = try host.modelInfo()
            let C = lh.hidden
            let layers = try parseLayers(try host.string("layers"), count: Int(info.layer_count))
            let critical = layers.last!
            let (corpus, tokens) = try statisticsCorpus(host, method: "memit")
            let lambda = try host.number("mom2_update_weight")
            let templates = try lh.contextTemplates(
                count: Int(try host.number("context_templates")), length: Int(try host.number("context_length")))
            // 1. A target z for every edit.
            let edits = try TargetSearch(lh, layer: critical, method: "memit").targets(templates: templates)
            // 2. Spread z − current over the layers, lowest first, in closed form.
            let E = edits.count
            for (li, l) in layers.enumerated() {
                let module = try lh.mlpOutput(l)
                let w = try lh.trainedWeight(module)
                let F = Int(w.shape.1)
                let K = try lh.keys(module, features: F, edits: edits, templates: templates)  // (E, F)
                // R (E, C): this layer's share of what the edits still lack
                let (R, before) = try lh.missing(edits, layer: critical, spread: layers.count - li)
                var A = try lh.secondMoment(module, features: F, corpus: corpus, tokens: tokens)
                addRidge(&A, features: F, ridge: try host.number("mom2_ridge"))
                // A = λ·Cov + KᵀK ; solve A Y = Kᵀ (F, E)
                for i in 0..<F {
                    for j in 0..<F {
                        var s: Float = 0
                        for e in 0..<E { s += K[e * F + i] * K[e * F + j] }
                        A[i * F + j] = Float(lambda) * A[i * F + j] + s
                    }
                }
                var Y = [Float](repeating: 0, count: F * E)
                for e in 0..<E { for j in 0..<F { Y[j * E + e] = K[e * F + j] } }
                try host.call(lh.lin.solve_spd(host.context, &A, &Y, Int64(F), Int64(E)), "solve_spd")
                // W (C, F) += Rᵀ (C, E) · Yᵀ (E, F)
                for c in 0..<C {
                    for j in 0..<F {
                        var s: Float = 0
                        for e in 0..<E { s += R[e * C + c] * Y[j * E + e] }
                        w.data[c * F + j] += s
                    }
                }
                let after = try lh.missing(edits, layer: critical).distance
                host.log(
                    "memit: layer \(l) (\(module)) updated for \(E) edits; distance to targets "
                        + "\(before) -> \(after)"
                )
            }
        }
    },
    destroy: { Instance.release($0, as: MEMIT.self) },
    describe: { raw in
        Outline.run(raw) { o in
            let layers = try parseLayers(try o.string("layers"), count: Int(try o.modelInfo().layer_count))
            // One layer at a time: the key second moment (F, F), the method's copy and LAPACK's
            // transposed copy.
            try describeLocateEdit(
                o, layers: layers, holding: "edited MLP output matrices with their originals, key statistics"
            ) { F in 3 * F * F * 4 }
        }
    },
    learningRateSweep: 1...1)  // closed form: the training loop's rate is not used

@_cdecl("canonedit_plugin_entry")
public func canoneditPluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafePointer<ce_plugin_descriptor>? {
    major == CE_API_MAJOR ? descriptor : nil
}
