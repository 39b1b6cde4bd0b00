// GRACE (Hartvigsen et al., 2023): a codebook on one block's output. Each canonical example
// adds a key, the residual stream leaving block grace_layer at the prompt's last token, with a
// radius. Wherever that stream comes within a key's radius, the entry's trained value
// replaces it; elsewhere the model is untouched. Keys and radii are saved as the plugin's
// state, the values as its own tensor; the host trains them with Adam.
//
// Here keys and values are both the block's output (GRACE keys a layer's input and replaces
// its output), and every real position is checked, as decoding token by token would check
// each new one, so a whole pass and generation agree. Radii grow and split as GRACE's do:
// a key within reach of one with the same answer widens that entry instead of adding one;
// with another answer both radii shrink to half the distance.
import PluginAPI
import PluginKit

final class GRACE {
    var layer = 0, C = 0
    var keys: [Float] = []  // (n, C)
    var radii: [Float] = []  // (n)
    var values: OpaquePointer?  // (n, C), the plugin's own trained tensor
    var adam = AdamSettings()
    /// The smallest distance between two examples' keys (for choosing grace_epsilon).
    var closest = Float.infinity

    /// ‖h − key j‖².
    func squaredDistance(_ h: UnsafePointer<Float>, toKey j: Int) -> Float {
        var d: Float = 0
        for c in 0..<C {
            let e = h[c] - keys[j * C + c]
            d += e * e
        }
        return d
    }

    /// The entry whose key is nearest h, when h is within its radius.
    func entry(for h: UnsafePointer<Float>) -> Int? {
        var best: Int? = nil, bestDistance = Float.infinity
        for j in radii.indices {
            let d = squaredDistance(h, toKey: j)
            if d <= radii[j] * radii[j], d < bestDistance { best = j; bestDistance = d }
        }
        return best
    }

    /// Calls `body(row, entry)` for every real position that falls within an entry's radius.
    func matches(_ r: ce_hook_rows, _ x: UnsafePointer<Float>, _ body: (Int, Int) -> Void) {
        for i in 0..<Int(r.batch) {
            for t in 0..<Int(r.length) where Int(r.start) + t < Int(r.lengths[i]) {
                let row = i * Int(r.length) + t
                if let j = entry(for: x + row * C) { body(row, j) }
            }
        }
    }

    /// Keys and radii from the canonical examples, with the model as it is before the edit.
    func buildCodebook(_ host: Host, initialRadius: Float) throws {
        guard let act = host.extensionTable(CE_EXT_ACTIVATIONS, as: ce_activations_ext.self)?.pointee else {
            throw PluginError(CE_ERR_UNSUPPORTED, "grace needs the canonedit.activations/1 extension")
        }
        var labels: [[Int32]] = []
        for e in 0..<host.exampleCount {
            guard let prefix = host.exampleTokens(e, CE_TEXT_PREFIX), !prefix.isEmpty,
                let suffix = host.exampleTokens(e, CE_TEXT_SUFFIX)
            else { continue }
            var key = [Float](repeating: 0, count: C)
            try host.call(
                act.residual(
                    host.context, prefix, Int64(prefix.count), Int32(layer), [Int64(prefix.count - 1)], 1, &key),
                "residual")
            var nearest: (j: Int, d: Float)? = nil
            for j in radii.indices {
                let d = key.withUnsafeBufferPointer { squaredDistance($0.baseAddress!, toKey: j) }.squareRoot()
                if nearest == nil || d < nearest!.d { nearest = (j, d) }
            }
            var radius = initialRadius
            if let d = nearest?.d { closest = min(closest, d) }
            if let (j, d) = nearest, d <= radii[j] + initialRadius {
                if labels[j] == suffix {
                    radii[j] = max(radii[j], d)
                    continue
                }
                radii[j] = d / 2
                radius = d / 2
            }
            keys += key
            radii.append(radius)
            labels.append(suffix)
        }
    }
}

private let forward: ce_hook_forward_fn = { user, hostPtr, rows, x in
    let g = Instance.get(user, as: GRACE.self), host = Host(hostPtr)
    return host.guarded {
        let v = try host.value(of: g.values!).data!
        g.matches(rows!.pointee, x!) { row, j in (x! + row * g.C).update(from: v + j * g.C, count: g.C) }
    }
}

/// A replaced position's gradient goes to its entry's value; its input gets none.
private let backward: ce_hook_backward_fn = { user, hostPtr, rows, input, d in
    let g = Instance.get(user, as: GRACE.self), host = Host(hostPtr)
    return host.guarded {
        var grad = ce_tensor()
        try host.call(hostPtr!.pointee.param_grad(host.context, g.values, &grad), "param_grad")
        g.matches(rows!.pointee, input!) { row, j in
            for c in 0..<g.C { grad.data[j * g.C + c] += d![row * g.C + c] }
            (d! + row * g.C).update(repeating: 0, count: g.C)
        }
    }
}

private let descriptor = makeDescriptor(
    id: "grace", version: "1.0.0",
    description: "GRACE: a codebook on one block's output; trained values replace it near each edit's key",
    capabilities: UInt64(CE_CAP_TRAINS) | UInt64(CE_CAP_HOOKS) | UInt64(CE_CAP_NEEDS_ACTIVATIONS),
    hyperparameters: [
        hyperparameter(
            "grace_layer", CE_HP_INT, min: -1, max: 1023, default: -1, noSweep: true,
            help: "the block whose output holds the codebook (-1: two thirds of the way up)"),
        hyperparameter(
            "grace_epsilon", CE_HP_FLOAT, min: 1e-6, max: 1e6, default: 10, sweep: 1...100, logScale: true,
            help: "the initial radius of each key (Euclidean distance in the residual stream)"),
    ] + AdamSettings.schema,
    create: { hostPtr, out in
        Instance.create(hostPtr, out) { host in
            let g = GRACE()
            g.adam = try AdamSettings(host)
            return g
        }
    },
    prepare: { inst, hostPtr in
        Instance.run(inst, hostPtr, as: GRACE.self) { g, host in
            guard let hooks = Hooks(host) else {
                throw PluginError(CE_ERR_UNSUPPORTED, "grace needs the canonedit.hooks/1 extension (a decoder model)")
            }
            let info = try host.modelInfo()
            let asked = Int(try host.number("grace_layer"))
            g.layer = asked >= 0 ? asked : Int(info.layer_count) * 2 / 3
            g.C = Int(info.hidden_size)
            guard g.layer < Int(info.layer_count) else {
                throw PluginError(CE_ERR_INVALID_ARGUMENT, "grace_layer \(g.layer) is beyond the model's layers")
            }
            // On resume and when a saved edit is applied, the codebook comes back as it was.
            if let keys = hooks.state("keys"), let radii = hooks.state("radii") {
                guard keys.count == radii.count * g.C else {
                    throw PluginError(CE_ERR_INVALID_ARGUMENT, "the saved codebook does not fit this model")
                }
                (g.keys, g.radii) = (keys, radii)
            } else {
                try g.buildCodebook(host, initialRadius: Float(try host.number("grace_epsilon")))
                try hooks.setState("keys", g.keys)
                try hooks.setState("radii", g.radii)
            }
            guard !g.radii.isEmpty else { throw PluginError(CE_ERR_INVALID_ARGUMENT, "grace: no examples to key") }
            let values = try hooks.newParam("grace.\(g.layer).values", shape: [g.radii.count, g.C])
            g.values = values
            // Each value starts as its key, the block's own output there: no change until trained.
            try host.value(of: values).data!.update(from: g.keys, count: g.keys.count)
            try hooks.onBlockOutput(layer: g.layer, forward: forward, backward: backward, user: inst)
            let r = g.radii.sorted()
            let apart = g.closest.isFinite ? ", the nearest two examples' keys \(g.closest) apart" : ""
            host.log(
                "grace: \(g.radii.count) keys on block \(g.layer)'s output, radii \(r.first!)…\(r.last!)" + apart)
        }
    },
    update: { inst, hostPtr, info in
        Instance.run(inst, hostPtr, as: GRACE.self) { g, host in try g.adam.step(host, [g.values!], info: info) }
    },
    destroy: { Instance.release($0, as: GRACE.self) },
    describe: { raw in
        Outline.run(raw) { o in
            // At most one key per canonical example at the chosen block; its value trained like an adapter.
            let info = try o.modelInfo(), asked = Int(try o.number("grace_layer"))
            let (L, C, n) = (Int(info.layer_count), Int(info.hidden_size), o.exampleCount)
            try o.willAdd(n * C, layer: min(asked >= 0 ? asked : L * 2 / 3, L))
            try o.willHold(n * (C + 1) * 4, "GRACE's keys and radii")
        }
    })

@_cdecl("canonedit_plugin_entry")
public func canoneditPluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafePointer<ce_plugin_descriptor>? {
    major == CE_API_MAJOR ? descriptor : nil
}
