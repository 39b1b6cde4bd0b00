import Engine
import Foundation
import Kernels
import PluginAPI
import Setting
import Support

/// Carried state's keys in the session's method state: set_state refuses them, so the two never meet.
let carriedPrefix = "carried:"

extension PluginBridge {
    /// Saves a copy of the plugin's `bytes` at `data` under `key` (the name of the calling setter
    /// in the errors).
    func keepState(
        _ key: UnsafePointer<CChar>?, _ data: UnsafeRawPointer?, _ bytes: Int64, as name: String,
        under stored: (String) -> String
    ) -> ce_status {
        guard let key, bytes >= 0, bytes == 0 || data != nil else {
            return fail(CE_ERR_INVALID_ARGUMENT, "\(name) needs a key and data")
        }
        session.methodState[stored(String(cString: key))] = bytes == 0 ? Data() : Data(bytes: data!, count: Int(bytes))
        return CE_OK
    }

    /// A copy of the state saved under `key`, owned by the bridge until the plugin is destroyed.
    func lendState(
        _ key: String, _ data: UnsafeMutablePointer<UnsafeRawPointer?>, _ bytes: UnsafeMutablePointer<Int64>
    )
        -> ce_status
    {
        guard let value = session.methodState[key] else { return fail(CE_ERR_NOT_FOUND, "no state saved as \(key)") }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(value.count, 1), alignment: 64)
        value.copyBytes(to: copy.assumingMemoryBound(to: UInt8.self), count: value.count)
        allocations.insert(copy)
        data.pointee = UnsafeRawPointer(copy)
        bytes.pointee = Int64(value.count)
        return CE_OK
    }
}

/// The "canonedit.hooks/1" table: hooks on block outputs, the plugin's own tensors and state.
func hooksExtension() -> ce_hooks_ext {
    var e = ce_hooks_ext()
    e.struct_size = UInt32(MemoryLayout<ce_hooks_ext>.size)
    e.on_block_output = { ctx, layer, forward, backward, user in
        let b = bridge(ctx)
        guard let forward else { return b.fail(CE_ERR_INVALID_ARGUMENT, "on_block_output needs a forward function") }
        guard let method = b.method else { return b.fail(CE_ERR_INTERNAL, "on_block_output outside a plugin run") }
        do {
            let hook = PluginBlockHook(
                layer: Int(layer), forward: forward, backward: backward, user: user, method: method)
            try b.session.addHook(hook)
            b.session.hookMethod = method.record
            return CE_OK
        } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
    }
    e.new_param = { ctx, name, ndim, shape, out in
        let b = bridge(ctx)
        guard let name, let shape, let out, (1...4).contains(ndim) else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "new_param needs a name, 1 to 4 dimensions and out")
        }
        let dims = (0..<Int(ndim)).map { Int(shape[$0]) }
        do {
            let full = b.session.stepName(String(cString: name))
            out.pointee = b.handle(try b.session.newParameter(full, shape: dims))
            return CE_OK
        } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "new_param: \(error)") }
    }
    e.set_state = { ctx, key, data, bytes in
        let b = bridge(ctx)
        if let key, String(cString: key).hasPrefix(carriedPrefix) {
            return b.fail(
                CE_ERR_INVALID_ARGUMENT, "set_state: keys starting with \"\(carriedPrefix)\" are set_carried_state's")
        }
        return b.keepState(key, data, bytes, as: "set_state", under: b.session.stepName)
    }
    e.set_carried_state = { ctx, key, data, bytes in
        bridge(ctx).keepState(key, data, bytes, as: "set_carried_state") { carriedPrefix + $0 }
    }
    e.get_carried_state = { ctx, key, data, bytes in
        let b = bridge(ctx)
        guard let key, let data, let bytes else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "get_carried_state needs key, out")
        }
        return b.lendState(carriedPrefix + String(cString: key), data, bytes)
    }
    e.get_state = { ctx, key, data, bytes in
        let b = bridge(ctx)
        guard let key, let data, let bytes else { return b.fail(CE_ERR_INVALID_ARGUMENT, "get_state needs key, out") }
        return b.lendState(b.session.stepName(String(cString: key)), data, bytes)
    }
    return e
}

/// A plugin's hook on a block's output, as the model calls it. It keeps its plugin instance
/// alive while the model holds it; a failing call or a non-finite value ends the run.
final class PluginBlockHook: BlockOutputHook {
    let layer: Int
    let forwardFn: ce_hook_forward_fn
    let backwardFn: ce_hook_backward_fn?
    let user: UnsafeMutableRawPointer?
    let method: PluginMethod

    init(
        layer: Int, forward: ce_hook_forward_fn, backward: ce_hook_backward_fn?, user: UnsafeMutableRawPointer?,
        method: PluginMethod
    ) {
        self.layer = layer
        forwardFn = forward
        backwardFn = backward
        self.user = user
        self.method = method
    }

    var trains: Bool { backwardFn != nil }

    func forward(_ x: UnsafeMutablePointer<Float>, rows: HookRows) throws {
        try call("hook forward on layer \(layer)", rows) { host, r in forwardFn(user, host, r, x) }
        let n = rows.B * rows.T * rows.C
        // The kernel's vectorised check first; the search for the bad value only on failure.
        if ce_all_finite(x, Int64(n)) == 0, let bad = (0..<n).first(where: { !x[$0].isFinite }) {
            throw PluginFailure(
                pluginID: method.id, what: "hook forward", status: CE_ERR_NUMERIC,
                message: "plugin \(method.id) wrote \(x[bad]) into block \(layer)'s output (row \(bad / rows.C))")
        }
    }

    func backward(_ d: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: HookRows) throws {
        guard let backwardFn else { return }
        try call("hook backward on layer \(layer)", rows) { host, r in backwardFn(user, host, r, input, d) }
    }

    /// Calls into the plugin with the rows as C sees them.
    func call(
        _ what: String, _ rows: HookRows,
        _ f: (UnsafePointer<ce_host>, UnsafePointer<ce_hook_rows>) -> ce_status
    ) throws {
        let lengths = rows.layout.lengths.map(Int64.init), queries = rows.layout.queries.map(Int64.init)
        try lengths.withUnsafeBufferPointer { lp in
            try queries.withUnsafeBufferPointer { qp in
                var r = ce_hook_rows()
                r.struct_size = UInt32(MemoryLayout<ce_hook_rows>.size)
                r.layer = Int32(rows.layer)
                r.batch = Int64(rows.B)
                r.length = Int64(rows.T)
                r.hidden = Int64(rows.C)
                r.start = Int64(rows.start)
                r.lengths = lp.baseAddress
                r.query = qp.baseAddress
                r.training = rows.training ? 1 : 0
                try method.call(what) { host in withUnsafePointer(to: &r) { f(host, $0) } }
            }
        }
    }
}
