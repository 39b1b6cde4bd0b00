import Engine
import Foundation
import PluginAPI
import Setting
import Support

extension PluginBridge {
    /// Parameter services of the host table: finding tensors by index or name, their values and
    /// gradients, and choosing what to train (whole tensors or rows).
    static func installParameterServices(_ t: inout ce_host) {
        t.param_count = { ctx in Int64(bridge(ctx).session.model.parameters.count) }
        t.param_at = { ctx, index, out in
            let b = bridge(ctx)
            let ps = b.session.model.parameters
            guard let out, index >= 0, index < ps.count else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "parameter index \(index) is outside 0..<\(ps.count)")
            }
            out.pointee = b.handle(ps[Int(index)])
            return CE_OK
        }
        t.param_find = { ctx, name, out in
            let b = bridge(ctx)
            guard let name, let out else { return CE_ERR_INVALID_ARGUMENT }
            let n = String(cString: name)
            guard let p = b.session.model.parameter(n) ?? b.session.trained.first(where: { $0.name == n }) else {
                return b.fail(CE_ERR_NOT_FOUND, "no parameter named \(n)")
            }
            out.pointee = b.handle(p)
            return CE_OK
        }
        t.param_name = { ctx, h in
            let b = bridge(ctx)
            return b.param(h).map { b.cString($0.name) }
        }
        t.param_value = { ctx, h, out in
            let b = bridge(ctx)
            guard let p = b.param(h), let out else { return b.fail(CE_ERR_INVALID_ARGUMENT, "not a parameter handle") }
            tensorView(p.value, out)
            return CE_OK
        }
        t.param_grad = { ctx, h, out in
            let b = bridge(ctx)
            guard let p = b.param(h), let out else { return b.fail(CE_ERR_INVALID_ARGUMENT, "not a parameter handle") }
            if p.requiresGrad { tensorView(p.ensureGrad(), out) } else { out.pointee = ce_tensor() }
            return CE_OK
        }
        t.train_param = { ctx, h in
            let b = bridge(ctx)
            guard let p = b.param(h) else { return b.fail(CE_ERR_INVALID_ARGUMENT, "not a parameter handle") }
            b.session.train(p)
            return CE_OK
        }
        t.train_rows = { ctx, h, rows, count in
            let b = bridge(ctx)
            guard let p = b.param(h), count >= 0, count == 0 || rows != nil else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "train_rows needs a parameter and rows")
            }
            let list = (0..<Int(count)).map { Int(rows![$0]) }
            guard list.allSatisfy({ $0 >= 0 && $0 < p.value.shape[0] }) else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "a row is outside 0..<\(p.value.shape[0]) of \(p.name)")
            }
            b.session.train(p, rows: list)
            return CE_OK
        }
        t.train_entries = { ctx, h, indices, count in
            let b = bridge(ctx)
            guard let p = b.param(h), count > 0, let indices else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "train_entries needs a parameter and at least one index")
            }
            do {
                try b.session.train(p, entries: (0..<Int(count)).map { Int(indices[$0]) })
                return CE_OK
            } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
        }
    }
}
