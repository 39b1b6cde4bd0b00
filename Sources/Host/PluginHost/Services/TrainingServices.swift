import Engine
import Foundation
import PluginAPI
import Setting
import Support

extension PluginBridge {
    /// Module and training services of the host table: linear modules by name or regex, low-rank
    /// adapters on them, and the host's Adam step.
    static func installTrainingServices(_ t: inout ce_host) {
        t.module_count = { ctx in Int64(bridge(ctx).session.model.linears.count) }
        t.module_name = { ctx, index in
            let b = bridge(ctx)
            let ls = b.session.model.linears
            return index >= 0 && index < ls.count ? b.cString(ls[Int(index)].name) : nil
        }
        t.module_matches = { ctx, name, regex in
            let b = bridge(ctx)
            guard let name, let regex else { return -1 }
            let pattern = String(cString: regex)
            guard let r = b.patterns.regex(pattern) else {
                b.error = "invalid regular expression \(pattern)"
                return -1
            }
            return FullMatchPatterns.matches(r, String(cString: name)) ? 1 : 0
        }
        t.attach_low_rank = { ctx, module, rank, scale, A, B in
            let b = bridge(ctx)
            guard let module, let A, let B else { return CE_ERR_INVALID_ARGUMENT }
            do {
                let a = try b.session.attachLowRank(module: String(cString: module), rank: Int(rank), scale: scale)
                A.pointee = b.handle(a.A)
                B.pointee = b.handle(a.B)
                return CE_OK
            } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
        }
        t.adam_step = { ctx, h, lr, b1, b2, eps, wd in
            let b = bridge(ctx)
            guard let p = b.param(h), p.requiresGrad else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "adam_step on a tensor that is not trained")
            }
            guard lr.isFinite, b1 >= 0, b1 < 1, b2 >= 0, b2 < 1, eps > 0 else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "adam_step: invalid lr or betas")
            }
            b.session.adam.step(p, lr: lr, beta1: b1, beta2: b2, eps: eps, weightDecay: wd)
            return CE_OK
        }
    }
}
