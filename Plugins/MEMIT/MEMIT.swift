// MEMIT (Meng et al. 2023) as the paper's baseline: for each edit, find a target
// residual state z at the subject's last token of the critical layer by optimising a vector
// added there (task loss over random prefixes, KL on the subject, norm clamp), then spread
// the change over the MLP output projections of the edited layers in closed form using the
// second moment of their keys over a general corpus: ΔW = R Kᵀ (λ C + K Kᵀ)⁻¹.
import Glibc
import PluginAPI
import PluginKit

final class MEMIT {}

private let descriptor = makeDescriptor(
    id: "memit", version: "1.0.0", description: "MEMIT: closed-form multi-layer edits of MLP output projections",
    capabilities: UInt64(CE_CAP_CLOSED_FORM) | UInt64(CE_CAP_NEEDS_ACTIVATIONS),
    hyperparameters: [
        hyperparameter(
            "layers", CE_HP_STRING, defaultString: "", noSweep: true,
            help: "edited layers, e.g. 3-8; empty: about 11–29% of depth"),
        hyperparameter(
            "subject", CE_HP_STRING, defaultString: "prefix", noSweep: true,
            help: "prefix (the whole canonical prefix is the subject, MEMIT_p) or oracle (the record's subject field)"),
        hyperparameter(
            "v_num_grad_steps", CE_HP_INT, min: 1, max: 1000, default: 20, noSweep: true,
            help: "steps optimising the target"),
        hyperparameter(
            "v_lr", CE_HP_FLOAT, min: 1e-5, max: 10, default: 0.5, noSweep: true,
            help: "Adam learning rate of the target vector"),
        hyperparameter(
            "v_weight_decay", CE_HP_FLOAT, min: 0, max: 100, default: 0.5, noSweep: true,
            help: "weight of ‖δ‖² / ‖h‖²"),
        hyperparameter(
            "clamp_norm_factor", CE_HP_FLOAT, min: 1e-3, max: 100, default: 0.75, sweep: 0.045...0.98, logScale: true,
            help: "‖δ‖ is kept at most this times ‖h‖"),
        hyperparameter(
            "mom2_update_weight", CE_HP_FLOAT, min: 0, max: 1e9, default: 15000, sweep: 9371...74288, logScale: true,
            help: "λ, the weight of the key covariance"),
        hyperparameter(
            "kl_factor", CE_HP_FLOAT, min: 0, max: 10, default: 0.0625, sweep: 0.001...0.1,
            help: "weight of KL(unedited ‖ edited) at the subject's last token"),
        hyperparameter(
            "mom2_corpus", CE_HP_STRING, defaultString: "", noSweep: true,
            help: "{\"text\"} JSONL for the key statistics (required)"),
        hyperparameter(
            "mom2_tokens", CE_HP_INT, min: 1, max: 1e9, default: 100000, noSweep: true,
            help: "tokens of that corpus to use"),
        hyperparameter(
            "mom2_ridge", CE_HP_FLOAT, min: 0, max: 1, default: 0, noSweep: true,
            help: "ridge: this share of the keys' mean square added to the diagonal (0: as published)"),
        hyperparameter(
            "context_templates", CE_HP_INT, min: 0, max: 64, default: 5, noSweep: true, help: "random prefixes per edit"
        ),
        hyperparameter(
            "context_length", CE_HP_INT, min: 1, max: 256, default: 10, noSweep: true,
            help: "tokens per random prefix"),
    ],
    create: { hostPtr, out in Host(hostPtr).guarded { Instance.store(MEMIT(), out) } },
    prepare: nil, update: nil,
    apply: { _, hostPtr in
        let host = Host(hostPtr)
        return host.guarded {
            guard let act = host.extensionTable(CE_EXT_ACTIVATIONS, as: ce_activations_ext.self)?.pointee,
                let lin = host.extensionTable(CE_EXT_LINALG, as: ce_linalg_ext.self)?.pointee
            else {
                throw PluginError(
                    CE_ERR_UNSUPPORTED, "MEMIT needs the activations and linalg host extensions (a decoder model)")
            }
            let ctx = host.context
            let info = try host.modelInfo()
            let C = Int(info.hidden_size)
            let layers = try parseLayers(try host.string("layers"), count: Int(info.layer_count))
            let critical = layers.last!
            let corpus = try host.string("mom2_corpus")
            if corpus.isEmpty { throw PluginError(CE_ERR_INVALID_ARGUMENT, "memit needs mom2_corpus") }
            let oracle = try host.string("subject") == "oracle"
            let (steps, lr, wd) = (
                Int(try host.number("v_num_grad_steps")), try host.number("v_lr"), try host.number("v_weight_decay")
            )
            let (clamp, lambda, klFactor) = (
                try host.number("clamp_norm_factor"), try host.number("mom2_update_weight"),
                try host.number("kl_factor")
            )
            let loss = host.taskLoss
            // The MLP output projection of each edited layer.
            func downProj(_ l: Int) throws -> String {
                for i in 0..<host.moduleCount
                where try host.matches(host.moduleName(i), ".*\\.\(l)\\.mlp\\.(down_proj|c_proj|dense_4h_to_h|fc_out)")
                {
                    return host.moduleName(i)
                }
                throw PluginError(CE_ERR_NOT_FOUND, "no MLP output projection in layer \(l)")
            }
            // Random prefixes from the unedited model, like MEMIT's context templates.
            let nT = Int(try host.number("context_templates")), tLen = Int(try host.number("context_length"))
            var templates: [[Int32]] = [[]]
            if nT > 0, let first = host.exampleTokens(0, CE_TEXT_PREFIX)?.first {
                for t in 0..<nT {
                    var out = [Int32](repeating: 0, count: tLen), n: Int64 = 0
                    try host.call(
                        host.raw.pointee.generate(ctx, [first], 1, Int64(tLen - 1), 1.0, UInt64(1000 + t), &out, &n),
                        "generate")
                    templates.append([first] + out.prefix(Int(n)))
                }
            }
            var delta: OpaquePointer? = nil
            try host.call(act.residual_delta(ctx, Int32(critical), &delta), "residual_delta")
            let dv = try host.value(of: delta!)
            func residual(_ ids: [Int32], at p: Int) throws -> [Float] {
                var out = [Float](repeating: 0, count: C)
                try host.call(
                    act.residual(ctx, ids, Int64(ids.count), Int32(critical), [Int64(p)], 1, &out), "residual")
                return out
            }
            // 1. A target z for every edit.
            var edits: [(prefix: [Int32], subjectLast: Int, z: [Float])] = []
            for e in 0..<host.exampleCount {
                guard let p = host.exampleTokens(e, CE_TEXT_PREFIX), let s1 = host.exampleTokens(e, CE_TEXT_SUFFIX),
                    !p.isEmpty, !s1.isEmpty
                else { continue }
                let s2 = host.exampleTokens(e, CE_TEXT_SUFFIX2) ?? []
                var last = p.count - 1
                if oracle, let through = host.exampleTokens(e, CE_TEXT_THROUGH_SUBJECT), !through.isEmpty,
                    through.count <= p.count
                {
                    last = through.count - 1
                } else if oracle {
                    host.log(
                        "memit: example \(e) has no subject field found in its prefix; using the prefix's last token")
                }
                let h = try residual(p, at: last)
                let hNorm = sqrt(h.reduce(0) { $0 + Double($1 * $1) })
                for i in 0..<C { dv.data[i] = 0 }
                var m = [Double](repeating: 0, count: C), v = m
                for step in 1...steps {
                    try host.call(act.zero_grads(ctx), "zero_grads")
                    var total = 0.0
                    // Task loss over the random prefixes; balance needs the current sign first.
                    var sign = 1.0
                    func seqLoss(_ tmpl: [Int32], _ s: [Int32], weight: Double, grad: Bool) throws -> Double {
                        let ids = tmpl + p + s
                        let rows = (0..<s.count).map { Int64(tmpl.count + p.count - 1 + $0) }
                        let w = [Float](repeating: Float(weight / Double(s.count)), count: s.count)
                        try host.call(act.residual_delta_at(ctx, Int64(tmpl.count + last)), "residual_delta_at")
                        var l = 0.0
                        try host.call(
                            act.sequence_loss(
                                ctx, ids, Int64(ids.count), rows, Array(ids[(tmpl.count + p.count)...]), w,
                                Int64(s.count), grad ? 1 : 0, &l), "sequence_loss")
                        return l
                    }
                    let per = 1 / Double(templates.count)
                    if loss == "balance" {
                        var d = 0.0
                        for t in templates {
                            d += try seqLoss(t, s1, weight: per, grad: false) - seqLoss(t, s2, weight: per, grad: false)
                        }
                        sign = d >= 0 ? 1 : -1
                    }
                    for t in templates {
                        switch loss {
                        case "bad": total += try seqLoss(t, s1, weight: -per, grad: true)
                        case "good-v-bad":
                            total +=
                                try seqLoss(t, s1, weight: per, grad: true) + seqLoss(t, s2, weight: -per, grad: true)
                        case "balance":
                            total +=
                                try seqLoss(t, s1, weight: sign * per, grad: true)
                                + seqLoss(t, s2, weight: -sign * per, grad: true)
                        default: total += try seqLoss(t, s1, weight: per, grad: true)
                        }
                    }
                    // Keep the subject's own next-token distribution: KL at its last token.
                    if klFactor > 0 {
                        try host.call(act.residual_delta_at(ctx, Int64(last)), "residual_delta_at")
                        var kl = 0.0
                        let subjectIds = Array(p[0...last])
                        try host.call(
                            act.sequence_kl(
                                ctx, subjectIds, Int64(subjectIds.count), [Int64(last)], 1, klFactor, 1, &kl),
                            "sequence_kl")
                        total += kl
                    }
                    if loss == "good" && total < 5e-2 { break }
                    // weight decay on ‖δ‖²/‖h‖², then an Adam step, then the norm clamp
                    var g = [Double](repeating: 0, count: C)
                    var gt = ce_tensor()
                    try host.call(host.raw.pointee.param_grad(ctx, delta, &gt), "param_grad")
                    for i in 0..<C {
                        let (gi, di): (Double, Double) = (Double(gt.data[i]), Double(dv.data[i]))
                        g[i] = gi + 2 * wd * di / (hNorm * hNorm)
                    }
                    let (b1, b2) = (0.9, 0.999)
                    for i in 0..<C {
                        m[i] = b1 * m[i] + (1 - b1) * g[i]
                        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                        let mh = m[i] / (1 - pow(b1, Double(step))), vh = v[i] / (1 - pow(b2, Double(step)))
                        dv.data[i] -= Float(lr * mh / (sqrt(vh) + 1e-8))
                    }
                    let norm = sqrt((0..<C).reduce(0.0) { $0 + Double(dv.data[$1] * dv.data[$1]) })
                    if norm > clamp * hNorm { for i in 0..<C { dv.data[i] *= Float(clamp * hNorm / norm) } }
                }
                edits.append((p, last, (0..<C).map { h[$0] + dv.data[$0] }))
                try host.call(act.residual_delta_at(ctx, -1), "residual_delta_at")
            }
            for i in 0..<C { dv.data[i] = 0 }
            guard !edits.isEmpty else { throw PluginError(CE_ERR_INVALID_ARGUMENT, "no usable edits") }
            // 2. Spread z − current over the layers, lowest first, in closed form.
            let E = edits.count
            for (li, l) in layers.enumerated() {
                let module = try downProj(l)
                var W: OpaquePointer? = nil
                try host.call(host.raw.pointee.param_find(ctx, module + ".weight", &W), "param_find")
                try host.train(W!)
                let w = try host.value(of: W!)
                let F = Int(w.shape.1)
                var K = [Float](repeating: 0, count: E * F)  // keys (E, F), averaged over prefixes
                var R = [Float](repeating: 0, count: E * C)  // residual still to add (E, C)
                for (e, ed) in edits.enumerated() {
                    var row = [Float](repeating: 0, count: F)
                    for t in templates {
                        let ids = t + ed.prefix
                        try host.call(
                            act.module_inputs(
                                ctx, ids, Int64(ids.count), module, [Int64(t.count + ed.subjectLast)], 1, &row),
                            "module_inputs")
                        for j in 0..<F { K[e * F + j] += row[j] / Float(templates.count) }
                    }
                    let cur = try residual(ed.prefix, at: ed.subjectLast)
                    for j in 0..<C { R[e * C + j] = (ed.z[j] - cur[j]) / Float(layers.count - li) }
                }
                var A = [Float](repeating: 0, count: F * F)
                try host.call(
                    act.input_second_moment(ctx, module, corpus, Int64(try host.number("mom2_tokens")), &A),
                    "input_second_moment")
                // Fewer statistics tokens than the MLP is wide leave the second moment singular.
                let ridge = try host.number("mom2_ridge")
                if ridge > 0 {
                    let mean = (0..<F).reduce(0.0) { $0 + Double(A[$1 * F + $1]) } / Double(F)
                    for i in 0..<F { A[i * F + i] += Float(ridge * mean) }
                }
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
                try host.call(lin.solve_spd(ctx, &A, &Y, Int64(F), Int64(E)), "solve_spd")
                // W (C, F) += Rᵀ (C, E) · Yᵀ (E, F)
                for c in 0..<C {
                    for j in 0..<F {
                        var s: Float = 0
                        for e in 0..<E { s += R[e * C + c] * Y[j * E + e] }
                        w.data[c * F + j] += s
                    }
                }
                // How much of the way to z the edits are, before and after this layer's update.
                var before = 0.0, after = 0.0
                for (e, ed) in edits.enumerated() {
                    let cur = try residual(ed.prefix, at: ed.subjectLast)
                    for j in 0..<C {
                        let full = Double(R[e * C + j]) * Double(layers.count - li)
                        before += full * full
                        after += Double(ed.z[j] - cur[j]) * Double(ed.z[j] - cur[j])
                    }
                }
                host.log(
                    "memit: layer \(l) (\(module)) updated for \(E) edits; distance to targets "
                        + "\(sqrt(before)) -> \(sqrt(after))"
                )
            }
        }
    },
    destroy: { Instance.release($0, as: MEMIT.self) },
    describe: { raw in
        Outline.run(raw) { o in
            let info = try o.modelInfo(), C = Int(info.hidden_size)
            let layers = try parseLayers(try o.string("layers"), count: Int(info.layer_count))
            let down = ".*\\.mlp\\.(down_proj|c_proj|dense_4h_to_h|fc_out)"
            let F = try o.modules.first { try $0.layer == layers[0] && o.matches($0.name, down) }?.in ?? 4 * C
            // Each edited output projection (C, F) in fp32 with its original; one layer at a time,
            // the key second moment (F, F), the method's copy and LAPACK's transposed copy.
            try o.willHold(
                layers.count * 2 * C * F * 4 + 3 * F * F * 4,
                "edited MLP output matrices with their originals, key statistics")
            // The target optimisation: one random prefix + example at a time, backward down to the
            // critical (last) layer.
            try o.willRun(
                rows: 1, tokens: Int(try o.number("context_length")) + o.longestExample, lowestLayer: layers.last!)
            try o.mayChange(down + "\\.weight")
        }
    },
    learningRateSweep: 1...1)  // closed form: the training loop's rate is not used

@_cdecl("canonedit_plugin_entry")
public func canoneditPluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafePointer<ce_plugin_descriptor>? {
    major == CE_API_MAJOR ? descriptor : nil
}
