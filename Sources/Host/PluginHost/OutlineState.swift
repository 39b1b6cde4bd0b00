import Engine
import Foundation
import PluginAPI
import Support

/// The host state behind a `ce_outline.ctx` during one `describe` call: the outline it reads
/// and the description the plugin's will_* calls build.
final class OutlineState {
    let model: OutlineModel
    let options: [String: PluginOption]
    let run: OutlineRun
    var description: MethodDescription
    var error: String?
    var cStrings: [String: UnsafeMutablePointer<CChar>] = [:]
    let patterns = FullMatchPatterns()

    init(model: OutlineModel, options: [String: PluginOption], run: OutlineRun) {
        (self.model, self.options, self.run) = (model, options, run)
        description = MethodDescription(lowestBlock: model.layers)
    }

    deinit { for p in cStrings.values { free(p) } }

    func cString(_ s: String) -> UnsafePointer<CChar> {
        if let p = cStrings[s] { return UnsafePointer(p) }
        let p = strdup(s)!
        cStrings[s] = p
        return UnsafePointer(p)
    }

    func fail(_ code: ce_status, _ message: String) -> ce_status { error = message; return code }

    /// `pattern` as a whole-name regex, or nil (and the error set) when it is not one.
    func regex(_ pattern: String) -> NSRegularExpression? {
        guard let r = patterns.regex(pattern) else {
            error = "invalid regular expression \(pattern)"
            return nil
        }
        return r
    }

    static func matches(_ r: NSRegularExpression, _ name: String) -> Bool { FullMatchPatterns.matches(r, name) }

    func reach(_ layer: Int) { description.lowestBlock = min(description.lowestBlock, max(layer, -1)) }

    static let table: ce_outline = {
        var t = ce_outline()
        t.struct_size = UInt32(MemoryLayout<ce_outline>.size)
        // The host's own message for a failed call comes first; the plugin's follows it.
        t.set_error = { ctx, message in
            let s = state(ctx), m = message.map { String(cString: $0) } ?? "no message"
            s.error = s.error.map { $0 + " (" + m + ")" } ?? m
        }
        t.option_number = { ctx, name, out in
            let s = state(ctx)
            guard let name, let out else { return s.fail(CE_ERR_INVALID_ARGUMENT, "option_number: NULL argument") }
            guard case .number(let x) = s.options[String(cString: name)] else {
                return s.fail(CE_ERR_NOT_FOUND, "no number option \(String(cString: name))")
            }
            out.pointee = x
            return CE_OK
        }
        t.option_string = { ctx, name, out in
            let s = state(ctx)
            guard let name, let out else { return s.fail(CE_ERR_INVALID_ARGUMENT, "option_string: NULL argument") }
            guard case .string(let x) = s.options[String(cString: name)] else {
                return s.fail(CE_ERR_NOT_FOUND, "no string option \(String(cString: name))")
            }
            out.pointee = s.cString(x)
            return CE_OK
        }
        t.model_info = { ctx, out in
            let s = state(ctx), m = s.model
            guard let out, out.pointee.struct_size >= UInt32(MemoryLayout<ce_model_info>.size) else {
                return s.fail(CE_ERR_INVALID_ARGUMENT, "model_info needs out->struct_size set")
            }
            out.pointee.layer_count = Int32(clamping: m.layers)
            out.pointee.hidden_size = Int32(clamping: m.hidden)
            out.pointee.vocab_size = Int32(clamping: m.vocab)
            out.pointee.context_length = Int32(clamping: m.context)
            out.pointee.architecture = s.cString(m.architecture)
            return CE_OK
        }
        t.example_count = { Int64(state($0).run.examples) }
        t.longest_example = { Int64(state($0).run.longestExample) }
        t.sequential = { state($0).run.sequential ? 1 : 0 }
        t.param_count = { Int64(state($0).model.parameters.count) }
        t.param_name = { ctx, i in
            let s = state(ctx)
            return s.model.parameters.indices.contains(Int(i)) ? s.cString(s.model.parameters[Int(i)].name) : nil
        }
        t.param_elements = { ctx, i in
            let s = state(ctx)
            return s.model.parameters.indices.contains(Int(i)) ? Int64(s.model.parameters[Int(i)].count) : -1
        }
        t.module_count = { Int64(state($0).model.modules.count) }
        t.module_name = { ctx, i in
            let s = state(ctx)
            return s.model.modules.indices.contains(Int(i)) ? s.cString(s.model.modules[Int(i)].name) : nil
        }
        t.module_shape = { ctx, i, out, inp, layer in
            let s = state(ctx)
            guard s.model.modules.indices.contains(Int(i)) else { return s.fail(CE_ERR_NOT_FOUND, "no module \(i)") }
            let m = s.model.modules[Int(i)]
            out?.pointee = Int64(m.out)
            inp?.pointee = Int64(m.in)
            layer?.pointee = Int32(m.layer)
            return CE_OK
        }
        t.module_matches = { ctx, name, pattern in
            let s = state(ctx)
            guard let name, let pattern, let r = s.regex(String(cString: pattern)) else { return -1 }
            return OutlineState.matches(r, String(cString: name)) ? 1 : 0
        }
        installReports(&t)
        return t
    }()

    /// The will_* and may_change functions: what the plugin reports.
    static func installReports(_ t: inout ce_outline) {
        t.will_train = { ctx, pattern in
            let s = state(ctx)
            guard let pattern, let r = s.regex(String(cString: pattern)) else {
                return s.fail(CE_ERR_INVALID_ARGUMENT, s.error ?? "will_train: NULL regex")
            }
            for p in s.model.parameters where OutlineState.matches(r, p.name) {
                s.description.trainedElements += p.count
                s.reach(p.layer)
            }
            return CE_OK
        }
        t.will_attach_low_rank = { ctx, module, rank in
            let s = state(ctx)
            guard let module, rank > 0 else {
                return s.fail(CE_ERR_INVALID_ARGUMENT, "will_attach_low_rank: no module or a rank below 1")
            }
            let name = String(cString: module)
            guard let m = s.model.modules.first(where: { $0.name == name }) else {
                return s.fail(CE_ERR_NOT_FOUND, "no linear module \(name)")
            }
            s.description.adapterElements += Int(rank) * (m.in + m.out)
            s.reach(m.layer)
            return CE_OK
        }
        t.will_add = { ctx, floats, layer in
            let s = state(ctx)
            guard floats >= 0, floats < 1 << 40 else { return s.fail(CE_ERR_INVALID_ARGUMENT, "will_add: \(floats)") }
            s.description.adapterElements += Int(floats)
            s.reach(Int(layer))
            return CE_OK
        }
        t.will_hold = { ctx, bytes, what in
            let s = state(ctx)
            guard bytes >= 0, bytes < 1 << 50 else { return s.fail(CE_ERR_INVALID_ARGUMENT, "will_hold: \(bytes)") }
            s.description.held.append((Int(bytes), what.map { String(cString: $0) } ?? "the method's own memory"))
            return CE_OK
        }
        t.will_run = { ctx, rows, tokens, lowest in
            let s = state(ctx)
            guard rows > 0, tokens > 0, rows < 1 << 20, tokens < 1 << 24 else {
                return s.fail(CE_ERR_INVALID_ARGUMENT, "will_run: \(rows) × \(tokens)")
            }
            s.description.passes.append((Int(rows), Int(tokens)))
            s.reach(Int(lowest))
            return CE_OK
        }
        t.may_change = { ctx, pattern in
            let s = state(ctx)
            guard let pattern, s.regex(String(cString: pattern)) != nil else {
                return s.fail(CE_ERR_INVALID_ARGUMENT, s.error ?? "may_change: NULL regex")
            }
            s.description.mayChange.append(String(cString: pattern))
            return CE_OK
        }
    }
}

func state(_ ctx: UnsafeMutableRawPointer?) -> OutlineState {
    Unmanaged<OutlineState>.fromOpaque(ctx!).takeUnretainedValue()
}
