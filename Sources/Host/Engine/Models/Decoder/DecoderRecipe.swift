import Foundation
import Support

/// A decoder before any of its weights is read: the spec and tensor names a memory plan needs,
/// and how to read each tensor when the model is built.
public struct DecoderRecipe {
    public let spec: DecoderSpec
    public let names: DecoderNames
    let sourceConfig: Any?
    let source: String
    /// `load(name, shape)` returns the tensor of a Hugging Face name, shape in PyTorch order.
    let load: (String, [Int]) throws -> Tensor

    public init(
        spec: DecoderSpec, names: DecoderNames, sourceConfig: Any? = nil, source: String,
        load: @escaping (String, [Int]) throws -> Tensor
    ) {
        (self.spec, self.names, self.sourceConfig, self.source, self.load) = (spec, names, sourceConfig, source, load)
    }

    /// A Llama from its config (its rotary settings checked).
    public init(llama config: LlamaConfig, source: String, load: @escaping (String, [Int]) throws -> Tensor) throws {
        _ = try RotaryParameters.check(
            config.rope_parameters, scaling: config.rope_scaling, act: config.hidden_act, source: source, llama3: true)
        self.init(spec: config.spec, names: LlamaConfig.names, sourceConfig: config, source: source, load: load)
    }

    /// A Gemma 3 from its config. Hugging Face stores each norm's w for a scale of 1 + w
    /// (`normsStoreOffset`); llama.cpp's GGUF already stores 1 + w.
    public init(
        gemma3 config: Gemma3Config, source: String, normsStoreOffset: Bool,
        load: @escaping (String, [Int]) throws -> Tensor
    ) throws {
        self.init(
            spec: try config.spec(source: source), names: Gemma3Config.names, sourceConfig: config, source: source
        ) { name, shape in
            let t = try load(name, shape)
            if normsStoreOffset && Gemma3Config.isNorm(name) { for i in 0..<t.count { t[i] += 1 } }
            return t
        }
    }

    /// Every layer's linear modules by Hugging Face name, with (out, in) shapes: what a method's
    /// module pattern (a LoRA target, MEMIT's layers) is matched against.
    public var linearModules: [(name: String, layer: Int, out: Int, in: Int)] {
        let s = spec, n = names
        var out: [(String, Int, Int, Int)] = []
        for l in 0..<s.L {
            let p = n.layer(l)
            if s.qkv == .separate {
                out += [(p + n.q, l, s.H * s.D, s.C), (p + n.k, l, s.G * s.D, s.C), (p + n.v, l, s.G * s.D, s.C)]
            } else {
                out.append((p + n.qkv, l, (s.H + 2 * s.G) * s.D, s.C))
            }
            out.append((p + n.o, l, s.C, s.H * s.D))
            if let g = n.gate, s.mlp.isGated { out.append((p + g, l, s.F, s.C)) }
            out += [(p + n.up, l, s.F, s.C), (p + n.down, l, s.C, s.F)]
        }
        return out
    }
}

extension DecoderRecipe {
    /// Every parameter's Hugging Face name and element count, as DecoderLM makes them: what a
    /// memory plan matches a method's pattern against.
    public var parameterSizes: [(name: String, count: Int)] {
        let s = spec, n = names
        var out = [(n.embed, s.V * s.C)]
        if let p = n.positions { out.append((p, s.context * s.C)) }
        func norm(_ name: String, _ width: Int = s.C) {
            out.append((name + ".weight", width))
            if s.norm == .layer { out.append((name + ".bias", width)) }
        }
        let attention = Set([n.q, n.k, n.v, n.qkv])
        for l in 0..<s.L {
            let p = n.layer(l)
            norm(p + n.attnNorm)
            if let m = n.mlpNorm, s.residual != .parallelOneNorm { norm(p + m) }
            if s.qkNorm, let q = n.qNorm, let k = n.kNorm { norm(p + q, s.D); norm(p + k, s.D) }
            if s.sandwichNorms, let a = n.postAttnNorm, let m = n.postMLPNorm { norm(p + a); norm(p + m) }
        }
        for m in linearModules {
            out.append((m.name + ".weight", m.out * m.in))
            let local = String(m.name.dropFirst(n.layer(m.layer).count))
            if attention.contains(local) ? s.attentionBias : local == n.o ? s.outputBias : s.mlpBias {
                out.append((m.name + ".bias", m.out))
            }
        }
        norm(n.finalNorm)
        if let h = n.head, !s.tiedHead { out.append((h + ".weight", s.V * s.C)) }
        if let h = n.head, s.headBias { out.append((h + ".bias", s.V)) }
        return out
    }
}

extension DecoderLM {
    public convenience init(_ r: DecoderRecipe) throws {
        try self.init(spec: r.spec, names: r.names, sourceConfig: r.sourceConfig, source: r.source, load: r.load)
    }
}
