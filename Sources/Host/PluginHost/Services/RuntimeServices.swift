import Engine
import Foundation
import PluginAPI
import Setting
import Support

extension PluginBridge {
    /// Services every method may use at run time: seeded random numbers and host-owned memory.
    static func installRuntimeServices(_ t: inout ce_host) {
        t.random_u64 = { ctx in bridge(ctx).session.rng.next() }
        t.random_uniform = { ctx in bridge(ctx).session.rng.nextDouble() }
        t.random_normal = { ctx in bridge(ctx).session.rng.normal() }
        t.alloc = { ctx, bytes in
            let b = bridge(ctx)
            var p: UnsafeMutableRawPointer? = nil
            guard posix_memalign(&p, 64, max(bytes, 1)) == 0, let p else { return nil }
            b.allocations.insert(p)
            return p
        }
        t.free = { ctx, p in
            let b = bridge(ctx)
            guard let p, b.allocations.remove(p) != nil else { return }
            free(p)
        }
    }
}
