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
            switch String(cString: id) {
            case CE_EXT_ACTIVATIONS:
                guard b.session.model is DecoderLM else { return nil }
                if b.activationsTable == nil {
                    b.activationsTable = .allocate(capacity: 1)
                    b.activationsTable!.initialize(to: activationsExtension())
                }
                return UnsafeRawPointer(b.activationsTable!)
            case CE_EXT_LINALG:
                if b.linalgTable == nil {
                    b.linalgTable = .allocate(capacity: 1)
                    b.linalgTable!.initialize(to: linalgExtension())
                }
                return UnsafeRawPointer(b.linalgTable!)
            case CE_EXT_HOOKS:
                guard b.session.model is DecoderLM else { return nil }
                if b.hooksTable == nil {
                    b.hooksTable = .allocate(capacity: 1)
                    b.hooksTable!.initialize(to: hooksExtension())
                }
                return UnsafeRawPointer(b.hooksTable!)
            case CE_EXT_BACKPACK: break
            default: return nil
            }
            guard let bp = b.session.model as? BackpackLM else { return nil }
            if b.backpackTable == nil {
                let e = UnsafeMutablePointer<ce_backpack_ext>.allocate(capacity: 1)
                e.initialize(to: backpackExtension(bp))
                b.backpackTable = e
            }
            return UnsafeRawPointer(b.backpackTable!)
        }
    }
}
