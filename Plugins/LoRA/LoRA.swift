// LoRA: low-rank adapters on the MLP projections of a contiguous block of layers centred on the
// middle (paper §5.1, the authors' `ft_experiment.py`). A is drawn U(−1/√in, 1/√in), B starts at
// zero and the adapter's output is scaled by lora_alpha / lora_rank, as PEFT does.
import PluginAPI
import PluginKit

final class LoRA {
    var trained: [OpaquePointer] = []
    var adam = AdamSettings()
}

private let descriptor = makeDescriptor(
    id: "lora", version: "1.0.0",
    description: "LoRA: trainable low-rank adapters on MLP projections, base model frozen",
    capabilities: UInt64(CE_CAP_TRAINS),
    hyperparameters: [
        hyperparameter(
            "lora_dropout", CE_HP_FLOAT, min: 0, max: 0, default: 0, noSweep: true,
            help: "must be 0 (the authors' value; no dropout)")
    ] + LowRankSettings.schema + AdamSettings.schema,
    create: { hostPtr, out in
        Instance.create(hostPtr, out) { host in
            let l = LoRA()
            l.adam = try AdamSettings(host)
            return l
        }
    },
    prepare: { inst, hostPtr in
        Instance.run(inst, hostPtr, as: LoRA.self) { l, host in
            let (params, pattern) = try LowRankSettings.attach(host)
            l.trained = params
            host.log(
                "lora: rank \(Int(try host.number("lora_rank"))) adapters on \(params.count / 2) modules (\(pattern))")
        }
    },
    update: { inst, hostPtr, info in
        Instance.run(inst, hostPtr, as: LoRA.self) { l, host in
            try l.adam.step(host, l.trained, info: info)
        }
    },
    destroy: { Instance.release($0, as: LoRA.self) },
    describe: { raw in Outline.run(raw) { o in try LowRankSettings.describe(o) } },
    learningRateSweep: tenTo(-6.5)...tenTo(-2))  // the paper's range

@_cdecl("canonedit_plugin_entry")
public func canoneditPluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafePointer<ce_plugin_descriptor>? {
    major == CE_API_MAJOR ? descriptor : nil
}
