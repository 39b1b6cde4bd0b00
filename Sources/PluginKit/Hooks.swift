// Swift conveniences over the "canonedit.hooks/1" extension (ABI 1.2): hooks on block
// outputs, tensors of the plugin's own and its saved state. Stateless, like the rest of PluginKit.
import PluginAPI

public struct Hooks {
    public let host: Host
    let table: ce_hooks_ext

    /// The extension, or nil when the host or model does not offer it.
    public init?(_ host: Host) {
        guard let t = host.extensionTable(CE_EXT_HOOKS, as: ce_hooks_ext.self) else { return nil }
        self.host = host
        table = t.pointee
    }

    /// A zero tensor of this shape, trained by the host like an adapter.
    public func newParam(_ name: String, shape: [Int]) throws -> OpaquePointer {
        var out: OpaquePointer? = nil
        let dims = shape.map(Int64.init)
        try host.call(table.new_param(host.context, name, Int32(dims.count), dims, &out), "new_param \(name) failed")
        return out!
    }

    public func onBlockOutput(
        layer: Int, forward: ce_hook_forward_fn, backward: ce_hook_backward_fn?, user: UnsafeMutableRawPointer?
    ) throws {
        try host.call(
            table.on_block_output(host.context, Int32(layer), forward, backward, user),
            "on_block_output on layer \(layer) failed")
    }

    /// Saves floats as the state under `key`.
    public func setState(_ key: String, _ values: [Float]) throws {
        try values.withUnsafeBytes {
            try host.call(
                table.set_state(host.context, key, $0.baseAddress, Int64($0.count)), "set_state \(key) failed")
        }
    }

    /// The floats saved under `key`, or nil when nothing was saved.
    public func state(_ key: String) -> [Float]? {
        var p: UnsafeRawPointer? = nil, n: Int64 = 0
        guard table.get_state(host.context, key, &p, &n) == CE_OK, let p else { return nil }
        return Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: Int(n) / 4))
    }
}
