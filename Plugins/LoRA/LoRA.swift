// LoRA: low-rank adapters on the MLP projections of a contiguous block of layers centred
// on the middle (paper §5.1, spec §4.2). A is drawn U(−1/√in, 1/√in), B starts at zero and
// the adapter's output is scaled by lora_alpha / lora_rank, as PEFT does.
import Glibc
import PluginAPI
import PluginKit

final class LoRA {
    var trained: [OpaquePointer] = []
    var betas = (0.9, 0.995), eps = 1e-8
}

/// Layers start…end (inclusive) for fraction p of L layers, exactly as the authors' sweeps
/// compute them: c = ⌈L·p⌉ layers around L/2, giving c+1 indices (ones ≥ L match nothing).
func centredBlock(layers L: Int, fraction p: Double) -> ClosedRange<Int> {
    let mid = L / 2, c = Int(ceil(Double(L) * p))
    return c % 2 == 0 ? (mid - c / 2)...(mid + c / 2) : (mid - c / 2)...(mid + c / 2 + 1)
}

private let descriptor = makeDescriptor(
    id: "lora", version: "1.0.0", description: "LoRA: trainable low-rank adapters on MLP projections, base model frozen",
    capabilities: UInt64(CE_CAP_TRAINS),
    hyperparameters: [
        hyperparameter("lora_rank", CE_HP_INT, min: 1, max: 4096, default: 8, sweep: 1...256, help: "adapter rank r"),
        hyperparameter("lora_alpha", CE_HP_FLOAT, min: 0, max: 1e6, default: 8, noSweep: true, help: "adapter output is scaled by alpha / r"),
        hyperparameter("lora_dropout", CE_HP_FLOAT, min: 0, max: 0, default: 0, noSweep: true, help: "must be 0 (the authors' value; no dropout)"),
        hyperparameter("target_modules", CE_HP_STRING, defaultString: "", noSweep: true,
                       help: "regex over module names (Python fullmatch); empty: MLP up/down projections of the centred block"),
        hyperparameter("layer_fraction", CE_HP_FLOAT, min: 0.01, max: 1, default: 0.5, sweep: 0.1...0.9,
                       help: "fraction p of layers in the centred block, used when target_modules is empty"),
        hyperparameter("beta1", CE_HP_FLOAT, min: 0, max: 0.9999, default: 0.9, noSweep: true, help: "Adam beta1"),
        hyperparameter("beta2", CE_HP_FLOAT, min: 0, max: 0.99999, default: 0.995, noSweep: true, help: "Adam beta2"),
        hyperparameter("eps", CE_HP_FLOAT, min: 1e-12, max: 1e-3, default: 1e-8, noSweep: true, help: "Adam epsilon"),
    ],
    create: { hostPtr, out in
        let host = Host(hostPtr)
        return host.guarded {
            let l = LoRA()
            l.betas = (try host.number("beta1"), try host.number("beta2"))
            l.eps = try host.number("eps")
            Instance.store(l, out)
        }
    },
    prepare: { inst, hostPtr in
        let host = Host(hostPtr), l = Instance.get(inst, as: LoRA.self)
        return host.guarded {
            let rank = Int(try host.number("lora_rank")), alpha = try host.number("lora_alpha")
            var pattern = try host.string("target_modules")
            if pattern.isEmpty {
                let block = centredBlock(layers: Int(try host.modelInfo().layer_count), fraction: try host.number("layer_fraction"))
                pattern = ".*\\.(" + block.map(String.init).joined(separator: "|") +
                    ")\\.mlp\\.(up_proj|down_proj|c_fc|c_proj|dense_h_to_4h|dense_4h_to_h|fc_in|fc_out)"
            }
            var modules: [String] = []
            for i in 0..<host.moduleCount where try host.matches(host.moduleName(i), pattern) {
                let name = host.moduleName(i)
                let (A, B) = try host.attachLowRank(name, rank: rank, scale: Float(alpha / Double(rank)))
                let a = try host.value(of: A)
                let bound = 1 / Double(a.shape.1).squareRoot()   // A is [rank, in]
                for j in 0..<Int(a.count) { a.data[j] = Float((2 * host.uniform() - 1) * bound) }
                l.trained += [A, B]
                modules.append(name)
            }
            if modules.isEmpty { throw PluginError(CE_ERR_INVALID_ARGUMENT, "target_modules \(pattern) matched no module") }
            host.log("lora: rank \(rank) adapters on \(modules.count) modules (\(pattern))")
        }
    },
    update: { inst, hostPtr, info in
        let host = Host(hostPtr), l = Instance.get(inst, as: LoRA.self)
        return host.guarded {
            for p in l.trained {
                try host.adamStep(p, lr: info!.pointee.learning_rate, beta1: l.betas.0, beta2: l.betas.1, eps: l.eps, weightDecay: 0)
            }
        }
    },
    destroy: { Instance.release($0, as: LoRA.self) })

@_cdecl("canonedit_plugin_entry")
public func canoneditPluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafePointer<ce_plugin_descriptor>? {
    major == CE_API_MAJOR ? descriptor : nil
}
