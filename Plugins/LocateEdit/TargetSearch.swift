// The target search MEMIT and ROME share (ROME's compute_v, MEMIT's compute_z): for each edit,
// a vector δ added to the residual stream leaving block `layer` at the subject's last token is
// optimised with Adam on the task loss over random prefixes, plus KL on the subject's own
// next-token distribution and a weight decay on ‖δ‖²/‖h‖², its norm clamped to a share of ‖h‖.
// The target is z = h + δ.
import Glibc
import PluginAPI
import PluginKit

/// One edit: its canonical prefix, the subject's last position in it, and the residual target.
public struct EditTarget {
    public let prefix: [Int32]
    public let subjectLast: Int
    public let z: [Float]
}

/// The search over one run: its options, read from the hyperparameters every locate-and-edit
/// method declares, and the host's residual delta (one per run) that it trains.
public final class TargetSearch {
    public let layer: Int
    let steps: Int
    let lr: Double
    let weightDecay: Double
    let clamp: Double
    let klFactor: Double
    let oracle: Bool
    let lh: LocatingHost
    let method: String
    let delta: OpaquePointer
    let dv: ce_tensor

    public init(_ lh: LocatingHost, layer: Int, method: String) throws {
        let host = lh.host
        self.layer = layer
        self.lh = lh
        self.method = method
        steps = Int(try host.number("v_num_grad_steps"))
        lr = try host.number("v_lr")
        weightDecay = try host.number("v_weight_decay")
        clamp = try host.number("clamp_norm_factor")
        klFactor = try host.number("kl_factor")
        oracle = try host.string("subject") == "oracle"
        var d: OpaquePointer? = nil
        try host.call(lh.act.residual_delta(host.context, Int32(layer), &d), "residual_delta")
        delta = d!
        dv = try host.value(of: delta)
    }

    /// A target for every usable canonical example, in example order, from the current model.
    public func targets(templates: [[Int32]]) throws -> [EditTarget] {
        let edits = try (0..<lh.host.exampleCount).compactMap { try target(example: $0, templates: templates) }
        guard !edits.isEmpty else { throw PluginError(CE_ERR_INVALID_ARGUMENT, "no usable edits") }
        return edits
    }

    /// The target of example e from the current model; nil when it has no prefix or suffix.
    public func target(example e: Int, templates: [[Int32]]) throws -> EditTarget? {
        let host = lh.host, act = lh.act, ctx = host.context, C = lh.hidden
        let loss = host.taskLoss
        defer { for i in 0..<C { dv.data[i] = 0 } }
        guard let p = host.exampleTokens(e, CE_TEXT_PREFIX), let s1 = host.exampleTokens(e, CE_TEXT_SUFFIX),
            !p.isEmpty, !s1.isEmpty
        else { return nil }
        let s2 = host.exampleTokens(e, CE_TEXT_SUFFIX2) ?? []
        var last = p.count - 1
        if oracle, let through = host.exampleTokens(e, CE_TEXT_THROUGH_SUBJECT), !through.isEmpty,
            through.count <= p.count
        {
            last = through.count - 1
        } else if oracle {
            host.log(
                "\(method): example \(e) has no subject field found in its prefix; using the prefix's last token")
        }
        let h = try lh.residual(p, at: last, layer: layer)
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
                    total += try seqLoss(t, s1, weight: per, grad: true) + seqLoss(t, s2, weight: -per, grad: true)
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
                    act.sequence_kl(ctx, subjectIds, Int64(subjectIds.count), [Int64(last)], 1, klFactor, 1, &kl),
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
                g[i] = gi + 2 * weightDecay * di / (hNorm * hNorm)
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
        try host.call(act.residual_delta_at(ctx, -1), "residual_delta_at")
        return EditTarget(prefix: p, subjectLast: last, z: (0..<C).map { h[$0] + dv.data[$0] })
    }
}
