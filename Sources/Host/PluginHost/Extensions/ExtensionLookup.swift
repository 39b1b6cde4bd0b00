import Engine
import Foundation
import PluginAPI
import Setting
import Support

extension PluginBridge {
    /// `get_extension`: the optional service tables, found by id, built once per bridge.
    static func installExtensionLookup(_ t: inout ce_host) {
        t.get_extension = { ctx, id in
            let b = bridge(ctx)
            guard let id else { return nil }
            let decoder = b.session.model is DecoderLM
            switch String(cString: id) {
            case CE_EXT_ACTIVATIONS: return decoder ? once(&b.activationsTable, activationsExtension) : nil
            case CE_EXT_HOOKS: return decoder ? once(&b.hooksTable, hooksExtension) : nil
            case CE_EXT_LINALG: return once(&b.linalgTable, linalgExtension)
            case CE_EXT_BACKPACK:
                guard let bp = b.session.model as? BackpackLM else { return nil }
                return once(&b.backpackTable) { backpackExtension(bp) }
            default: return nil
            }
        }
    }
}

/// The table in `slot`, made on first use; it lives as long as the bridge.
private func once<T>(_ slot: inout UnsafeMutablePointer<T>?, _ make: () -> T) -> UnsafeRawPointer {
    if slot == nil {
        slot = .allocate(capacity: 1)
        slot!.initialize(to: make())
    }
    return UnsafeRawPointer(slot!)
}
