import Engine
import Foundation
import PluginAPI
import Setting
import Support

extension PluginBridge {
    /// Core services of the host table: errors and logging, cancellation, the plugin's options,
    /// the model's shape, seeded random numbers, memory and the task's loss type.
    static func installCoreServices(_ t: inout ce_host) {
        // A plugin reporting a host service's failure keeps the host's message as the cause.
        t.set_error = { ctx, msg in
            let b = bridge(ctx), m = msg.map { String(cString: $0) } ?? ""
            b.error = b.error.map { m + ": " + $0 } ?? m
        }
        t.log = { ctx, level, msg in
            let b = bridge(ctx)
            b.log(
                "[\(level >= CE_LOG_WARN ? "warning" : level == CE_LOG_INFO ? "info" : "debug")] "
                    + "\(msg.map { String(cString: $0) } ?? "")"
            )
        }
        t.progress = { ctx, fraction, what in
            bridge(ctx).log(String(format: "  %3.0f%% ", fraction * 100) + (what.map { String(cString: $0) } ?? ""))
        }
        t.cancelled = { _ in Cancellation.isRequested ? 1 : 0 }
        t.option_number = { ctx, name, out in
            let b = bridge(ctx)
            guard let name, let out else { return CE_ERR_INVALID_ARGUMENT }
            guard case .number(let v)? = b.options[String(cString: name)] else {
                return b.fail(CE_ERR_NOT_FOUND, "no numeric hyperparameter \(String(cString: name))")
            }
            out.pointee = v
            return CE_OK
        }
        t.option_string = { ctx, name, out in
            let b = bridge(ctx)
            guard let name, let out else { return CE_ERR_INVALID_ARGUMENT }
            guard case .string(let v)? = b.options[String(cString: name)] else {
                return b.fail(CE_ERR_NOT_FOUND, "no string hyperparameter \(String(cString: name))")
            }
            out.pointee = b.cString(v)
            return CE_OK
        }
        t.model_info = { ctx, out in
            let b = bridge(ctx)
            guard let out, out.pointee.struct_size >= UInt32(MemoryLayout<ce_model_info>.size) else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "model_info needs out->struct_size set")
            }
            let m = b.session.model
            out.pointee.layer_count = Int32(m.layerCount)
            out.pointee.hidden_size = Int32(m.parameters.first?.value.cols ?? 0)
            out.pointee.vocab_size = Int32(m.vocabSize)
            out.pointee.context_length = Int32(m.contextLength)
            out.pointee.architecture = b.cString(m.architecture)
            return CE_OK
        }
        t.task_loss = { ctx in
            let b = bridge(ctx); return b.cString(b.session.lossType.rawValue)
        }
    }
}
