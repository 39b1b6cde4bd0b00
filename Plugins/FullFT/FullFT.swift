// FullFT: full finetuning (paper §5.1, the authors' `ft_experiment.py`). Every parameter the
// pattern names is trained, and each update is one Adam step on each of them.
import PluginAPI
import PluginKit

final class FullFT {
    var trained: [OpaquePointer] = []
    var adam = AdamSettings()
}

private let descriptor = makeDescriptor(
    id: "full", version: "1.0.0",
    description: "Full finetuning: train every parameter (or those matching params_regex) with Adam",
    capabilities: UInt64(CE_CAP_TRAINS),
    hyperparameters: [
        hyperparameter(
            "params_regex", CE_HP_STRING, defaultString: ".*", noSweep: true,
            help: "which parameters to train (full match on Hugging Face names)"),
        hyperparameter(
            "weight_decay", CE_HP_FLOAT, min: 0, max: 1, default: 0, noSweep: true, help: "decoupled weight decay"),
    ] + AdamSettings.schema,
    create: { hostPtr, out in
        Instance.create(hostPtr, out) { host in
            let f = FullFT()
            f.adam = try AdamSettings(host)
            f.adam.weightDecay = try host.number("weight_decay")
            return f
        }
    },
    prepare: { inst, hostPtr in
        Instance.run(inst, hostPtr, as: FullFT.self) { f, host in
            let pattern = try host.string("params_regex")
            for i in 0..<host.paramCount {
                let p = try host.param(at: i)
                if try host.matches(host.name(of: p), pattern) { try host.train(p); f.trained.append(p) }
            }
            if f.trained.isEmpty {
                throw PluginError(CE_ERR_INVALID_ARGUMENT, "params_regex \(pattern) matched no parameter")
            }
            host.log("full: training \(f.trained.count) tensors")
        }
    },
    update: { inst, hostPtr, info in
        Instance.run(inst, hostPtr, as: FullFT.self) { f, host in
            try f.adam.step(host, f.trained, info: info)
        }
    },
    destroy: { Instance.release($0, as: FullFT.self) },
    describe: { raw in
        Outline.run(raw) { o in
            try o.willTrain(try o.string("params_regex"))
            try o.mayChange(".*")
        }
    },
    learningRateSweep: tenTo(-8.5)...tenTo(-4))  // the paper's range

@_cdecl("canonedit_plugin_entry")
public func canoneditPluginEntry(_ major: UInt32, _ minor: UInt32) -> UnsafePointer<ce_plugin_descriptor>? {
    major == CE_API_MAJOR ? descriptor : nil
}
