// AlphaEdit (Fang et al. 2025, "AlphaEdit: Null-Space Constrained Knowledge Editing"): MEMIT's
// targets and layers, with each layer's update projected onto the null space of the preserved
// keys' second moment (the eigenvectors whose eigenvalues fall below a threshold), so that the
// outputs of preserved keys do not move. In sequential editing the keys of earlier steps are
// carried to later ones (the paper's K_p), so that a new step does not overwrite old edits.
import Glibc
import LocateEdit
import PluginAPI
import PluginKit

final class AlphaEdit {}

/// Null spaces already decomposed in this process, by module, statistics and threshold:
/// sequential editing asks for the same ones at every step.
nonisolated(unsafe) private var nullSpaces: [String: NullSpace] = [:]

/// The null space of a module's key statistics, from the cache when the statistics match.
func nullSpace(_ lh: LocatingHost, module: String, features F: Int, threshold: Double) throws -> NullSpace {
    let (corpus, tokens) = try statisticsCorpus(lh.host, method: "alphaedit")
    let moment = try lh.secondMoment(module, features: F, corpus: corpus, tokens: tokens)
    var digest: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a over the statistics' bits
    for x in moment { digest = (digest ^ UInt64(x.bitPattern)) &* 0x100_0000_01b3 }
    let key = "\(module) \(tokens) \(threshold) \(digest)"
    if let cached = nullSpaces[key] { return cached }
    let (values, vectors) = try lh.symmetricEigen(moment, n: F)
    let space = NullSpace(values: values, vectors: vectors, features: F, threshold: Float(threshold))
    if space.rank == 0 {
        throw PluginError(
            CE_ERR_INVALID_ARGUMENT,
            "alphaedit: no eigenvalue of \(module)'s key statistics is below nullspace_threshold \(threshold) "
                + "(the smallest is \(values[0])): raise the threshold")
    }
    lh.host.log("alphaedit: \(module): null space of \(space.rank) of \(F) directions (eigenvalues < \(threshold))")
    nullSpaces[key] = space
    return space
}

/// The keys of earlier steps at a module, carried between steps of sequential editing: (Ep, F).
func earlierKeys(_ hooks: ce_hooks_ext, _ host: Host, module: String, features F: Int) throws -> [Float] {
    var data: UnsafeRawPointer? = nil, bytes: Int64 = 0
    let status = hooks.get_carried_state!(host.context, "keys " + module, &data, &bytes)
    if status == CE_ERR_NOT_FOUND { return [] }
    try host.call(status, "get_carried_state")
    guard bytes % Int64(4 * F) == 0, let data else {
        throw PluginError(CE_ERR_INVALID_ARGUMENT, "alphaedit: the carried keys of \(module) are not rows of \(F)")
    }
    return Array(UnsafeBufferPointer(start: data.assumingMemoryBound(to: Float.self), count: Int(bytes) / 4))
}

private let descriptor = makeDescriptor(
    id: "alphaedit", version: "1.0.0",
    description: "AlphaEdit: MEMIT's update projected onto the null space of preserved keys",
    capabilities: UInt64(CE_CAP_CLOSED_FORM) | UInt64(CE_CAP_NEEDS_ACTIVATIONS),
    hyperparameters: locateEditHyperparameters(
        layersHelp: "edited layers, e.g. 3-8; empty: about 11–29% of depth", steps: 25, lr: 0.1, clamp: 0.75,
        clampSweep: 0.045...0.98,
        method: [
            hyperparameter(
                "nullspace_threshold", CE_HP_FLOAT, min: 0, max: 1e9, default: 0.02, noSweep: true,
                help: "eigenvalues of the key statistics below this span the null space"),
            hyperparameter(
                "l2", CE_HP_FLOAT, min: 0, max: 1e9, default: 10, sweep: 1...100, logScale: true,
                help: "weight of ‖ΔW‖² in the projected least squares"),
        ],
        statistics: [], templates: 5),
    create: { hostPtr, out in Host(hostPtr).guarded { Instance.store(AlphaEdit(), out) } },
    prepare: nil, update: nil,
    apply: { _, hostPtr in
        let host = Host(hostPtr)
        return host.guarded {
            let lh = try LocatingHost(host, method: "AlphaEdit")
            guard let hooks = host.extensionTable(CE_EXT_HOOKS, as: ce_hooks_ext.self)?.pointee,
                hooks.struct_size >= UInt32(MemoryLayout<ce_hooks_ext>.size)
            else { throw PluginError(CE_ERR_UNSUPPORTED, "alphaedit needs the hooks extension's carried state (1.4)") }
            let info = try host.modelInfo()
            let C = lh.hidden
            let layers = try parseLayers(try host.string("layers"), count: Int(info.layer_count))
            let critical = layers.last!
            let (threshold, l2) = (try host.number("nullspace_threshold"), try host.number("l2"))
            let templates = try lh.contextTemplates(
                count: Int(try host.number("context_templates")), length: Int(try host.number("context_length")))
            let edits = try TargetSearch(lh, layer: critical, method: "alphaedit").targets(templates: templates)
            let E = edits.count
            var modules: [(name: String, features: Int, earlier: [Float])] = []
            for (li, l) in layers.enumerated() {
                let module = try lh.mlpOutput(l)
                let w = try lh.trainedWeight(module)
                let F = Int(w.shape.1)
                let K = try lh.keys(module, features: F, edits: edits, templates: templates)
                let (R, before) = try lh.missing(edits, layer: critical, spread: layers.count - li)
                let Kp = try earlierKeys(hooks, host, module: module, features: F)
                modules.append((module, F, Kp))
                let space = try nullSpace(lh, module: module, features: F, threshold: threshold)
                let dW = try alphaEditUpdate(
                    keys: K, residuals: R, earlier: Kp, nullSpace: space, l2: Float(l2), edits: E,
                    earlierEdits: Kp.count / F, outputs: C, solve: { A, B, n, m in try lh.solve(A, &B, n: n, m: m) })
                for i in 0..<C * F { w.data[i] += dW[i] }
                let after = try lh.missing(edits, layer: critical).distance
                host.log(
                    "alphaedit: layer \(l) (\(module)) updated for \(E) edits (\(Kp.count / F) earlier kept); "
                        + "distance to targets \(before) -> \(after)")
            }
            // The keys of this step's edits, on the edited model, join the ones later steps keep.
            for m in modules {
                let K = try lh.keys(m.name, features: m.features, edits: edits, templates: templates)
                let all = m.earlier + K
                try host.call(
                    all.withUnsafeBytes {
                        hooks.set_carried_state!(host.context, "keys " + m.name, $0.baseAddress, Int64($0.count))
                    }, "set_carried_state")
            }
        }
    },
    destroy: { Instance.release($0, as: AlphaEdit.self) },
    describe: { raw in
        Outline.run(raw) { o in
            let layers = try parseLayers(try o.string("layers"), count: Int(try o.modelInfo().layer_count))
            // One layer at a time: the key statistics (F, F), their eigenvectors and LAPACK's double
            // copies, the (F, F) system and its LU.
            try describeLocateEdit(
                o, layers: layers,
                holding: "edited MLP output matrices with their originals, key statistics, null spaces"
            ) { F in 4 * F * F * 4 + 2 * F * F * 8 }
        }
    },
    learningRateSweep: 1...1)  // closed form: the training loop's rate is not used

@_cdecl("canonedit_plugin_entry")
public func canoneditPluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafePointer<ce_plugin_descriptor>? {
    major == CE_API_MAJOR ? descriptor : nil
}
