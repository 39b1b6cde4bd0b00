import Engine
import Foundation
import PluginHost
import Support

/// What a method will train and hold, as far as its options say before it runs. The shipped
/// methods are described here; another plugin's tensors are chosen in its `prepare`, which
/// needs the model, so a plan counts none for it and says so.
struct MethodFootprint {
    /// Elements of model tensors trained whole: fp32 value, original, gradient, Adam's two moments.
    var trainedElements = 0
    /// Adapter elements: value, gradient, Adam's two moments.
    var adapterElements = 0
    /// The lowest block a backward pass goes through (-1: into the embedding; L: none).
    var lowestBlock: Int
    /// Extra training rows a pass may run (MEMIT's target optimisation, CondFT's paraphrases).
    var extraPass: (B: Int, T: Int)? = nil
    /// False for a closed-form method: no training passes over the canonical examples or KL
    /// documents, only its own (`extraPass`).
    var trainsOnData = true
    /// Memory the method itself holds at its peak, with what it is.
    var own: (bytes: Int, what: String)? = nil
    /// Set when the method's tensors are unknown before it runs.
    var unknown: String? = nil

    init(id: String, options o: [String: PluginOption], recipe r: DecoderRecipe, passes: MemoryPlan.Passes) throws {
        let (s, longestExample) = (r.spec, passes.longestExample)
        lowestBlock = s.L
        func text(_ k: String) -> String { if case .string(let v) = o[k] { return v } else { return "" } }
        func number(_ k: String) -> Double { if case .number(let v) = o[k] { return v } else { return 0 } }
        func regex(_ p: String) throws -> NSRegularExpression {
            do { return try NSRegularExpression(pattern: "^(?:" + p + ")$") } catch {
                throw CanonEditError("invalid regular expression \(p)")
            }
        }
        func matches(_ re: NSRegularExpression, _ name: String) -> Bool {
            re.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
        }
        func trainWhole(_ pattern: String) throws {
            let re = try regex(pattern)
            for p in r.parameterSizes where matches(re, p.name) {
                trainedElements += p.count
                lowestBlock = min(lowestBlock, Self.layer(of: p.name, recipe: r) ?? -1)
            }
        }
        func adapters() throws {
            var pattern = text("target_modules")
            if pattern.isEmpty {
                // LowRankSettings' default: the MLP projections of the centred block of layers.
                let L = s.L, mid = L / 2, c = Int((Double(L) * number("layer_fraction")).rounded(.up))
                let lo = mid - c / 2, hi = c % 2 == 0 ? mid + c / 2 : mid + c / 2 + 1
                pattern =
                    ".*\\.(" + (lo...hi).map(String.init).joined(separator: "|")
                    + ")\\.mlp\\.(up_proj|down_proj|c_fc|c_proj|dense_h_to_4h|dense_4h_to_h|fc_in|fc_out)"
            }
            let re = try regex(pattern), rank = Int(number("lora_rank"))
            var folded = 0
            for m in r.linearModules where matches(re, m.name) {
                adapterElements += rank * (m.in + m.out)
                lowestBlock = min(lowestBlock, m.layer)
                folded += m.in * m.out
            }
            // Sequential editing folds each step's adapters into their weights: fp32 and original.
            if passes.sequential { own = (folded * 8, "adapted weights the edits are folded into, with originals") }
        }
        switch id {
        case "full": try trainWhole(text("params_regex"))
        case "lora": try adapters()
        case "condft":
            if text("params") == "full" { try trainWhole(".*") } else { try adapters() }
            extraPass = (1, Int(number("prefix_length")) + longestExample)
        case "memit":
            let layers = try Self.memitLayers(text("layers"), L: s.L)
            // Each edited down projection (C, F) is held in fp32 with its fp32 original; one layer
            // at a time, the key second moment (F, F), the method's copy, LAPACK's transposed copy.
            own = (
                layers.count * 2 * s.C * s.F * 4 + 3 * s.F * s.F * 4,
                "edited MLP output matrices with their originals, key statistics"
            )
            // Its target optimisation runs one random prefix + example at a time, backward down
            // to the critical (last) layer.
            lowestBlock = layers.max() ?? s.L
            extraPass = (1, Int(number("context_length")) + longestExample)
            trainsOnData = false
        case "grace":
            // Plugins/GRACE's default layer; at most one key per canonical example, its value
            // trained like an adapter, the key and radius held.
            let asked = Int(number("grace_layer"))
            lowestBlock = min(asked >= 0 ? asked : s.L * 2 / 3, s.L)
            adapterElements = passes.examples * s.C
            own = (passes.examples * (s.C + 1) * 4, "GRACE's keys and radii")
        case "loreft":
            // loreft.c's default layer; R, W (rank, C) and b (rank) per edit.
            let asked = Int(number("reft_layer")), steps = passes.sequential ? passes.examples : 1
            lowestBlock = min(asked >= 0 ? asked : s.L / 2, s.L)
            adapterElements = steps * Int(number("reft_rank")) * (2 * s.C + 1)
        default:
            unknown = "method \(id): its tensors are chosen when it runs; not counted"
            lowestBlock = 0
        }
    }

    /// The block a parameter belongs to, from the layer prefix its name starts with.
    static func layer(of name: String, recipe r: DecoderRecipe) -> Int? {
        (0..<r.spec.L).last { name.hasPrefix(r.names.layer($0)) }
    }

    /// MEMIT's `layers` option ("3-8", "3,5,7"; empty: about 11–29% of depth), as the plugin reads it.
    static func memitLayers(_ text: String, L: Int) throws -> [Int] {
        if text.isEmpty {
            let lo = Int((0.107 * Double(L)).rounded()), hi = max(lo, Int((0.286 * Double(L)).rounded()))
            return Array(lo...min(hi, L - 1))
        }
        return text.split(separator: ",").flatMap { part -> [Int] in
            let ends = part.split(separator: "-").compactMap { Int($0.filter { $0 != " " }) }
            guard let a = ends.first, let b = ends.last, a <= b else { return [] }
            return Array(a...b).filter { $0 >= 0 && $0 < L }
        }
    }
}
