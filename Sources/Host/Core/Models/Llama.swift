import Kernels

/// Llama settings, mirroring Hugging Face's `config.json` for `model_type: llama`.
public struct LlamaConfig: Codable, Equatable {
    public var hidden_size: Int              // C
    public var intermediate_size: Int        // F
    public var num_hidden_layers: Int        // L
    public var num_attention_heads: Int      // H
    public var num_key_value_heads: Int?     // G (defaults to H)
    public var head_dim: Int?                // D (defaults to C/H)
    public var rms_norm_eps: Double
    public var rope_theta: Double?
    public var vocab_size: Int               // V
    public var max_position_embeddings: Int
    public var tie_word_embeddings: Bool?
    /// Not in config.json: GGUF files store q/k rows permuted for rotation of adjacent pairs.
    public var rope_interleaved: Bool?

    var C: Int { hidden_size }
    var H: Int { num_attention_heads }
    var G: Int { num_key_value_heads ?? num_attention_heads }
    var D: Int { head_dim ?? hidden_size / num_attention_heads }
    var F: Int { intermediate_size }
    var L: Int { num_hidden_layers }

    func validate(_ source: String) throws {
        guard C > 0, H > 0, G > 0, F > 0, L > 0, vocab_size > 0, max_position_embeddings > 0 else {
            throw CanonEditError("\(source): llama config has a zero or negative size")
        }
        guard H % G == 0 else { throw CanonEditError("\(source): \(H) attention heads do not divide into \(G) key/value heads") }
        guard D % 2 == 0 else { throw CanonEditError("\(source): head dim \(D) must be even for rotary embeddings") }
    }
}

/// The Llama decoder (SmolLM2, Llama 2/3): pre-RMSNorm blocks of grouped-query causal
/// attention with rotary positions and a SwiGLU MLP, tied or untied output layer.
public final class LlamaModel: CausalLM {
    struct Block {
        let attnNorm: Parameter          // (C)
        let q, k, v, o: Linear           // (H*D, C) (G*D, C) (G*D, C) (C, H*D)
        let mlpNorm: Parameter           // (C)
        let gate, up, down: Linear       // (F, C) (F, C) (C, F)
    }

    public let config: LlamaConfig
    let embed: Parameter                 // (V, C)
    let blocks: [Block]
    let norm: Parameter                  // (C)
    let lmHead: Parameter                // (V, C); the same object as embed when tied
    public let parameters: [Parameter]
    var rope: RopeTable
    let scratch = Scratch()

    public var architecture: String { "llama" }
    public var vocabSize: Int { config.vocab_size }
    public var contextLength: Int { config.max_position_embeddings }
    public var layerCount: Int { config.L }

    /// `load(name, shape)` returns the tensor for a Hugging Face parameter name.
    public init(config: LlamaConfig, source: String, load: (String, [Int]) throws -> Tensor) throws {
        try config.validate(source)
        self.config = config
        let (C, H, G, D, F, V) = (config.C, config.H, config.G, config.D, config.F, config.vocab_size)
        func p(_ name: String, _ shape: [Int]) throws -> Parameter { Parameter(name, try load(name, shape)) }
        func lin(_ name: String, _ out: Int, _ inp: Int) throws -> Linear { Linear(name: name, weight: try p(name + ".weight", [out, inp])) }
        embed = try p("model.embed_tokens.weight", [V, C])
        var blocks: [Block] = []
        for l in 0..<config.L {
            let pre = "model.layers.\(l)."
            blocks.append(Block(
                attnNorm: try p(pre + "input_layernorm.weight", [C]),
                q: try lin(pre + "self_attn.q_proj", H * D, C), k: try lin(pre + "self_attn.k_proj", G * D, C),
                v: try lin(pre + "self_attn.v_proj", G * D, C), o: try lin(pre + "self_attn.o_proj", C, H * D),
                mlpNorm: try p(pre + "post_attention_layernorm.weight", [C]),
                gate: try lin(pre + "mlp.gate_proj", F, C), up: try lin(pre + "mlp.up_proj", F, C),
                down: try lin(pre + "mlp.down_proj", C, F)))
        }
        self.blocks = blocks
        norm = try p("model.norm.weight", [C])
        lmHead = config.tie_word_embeddings ?? true ? embed : try p("lm_head.weight", [V, C])
        var all = [embed]
        for b in blocks {
            all += [b.attnNorm, b.q.weight, b.k.weight, b.v.weight, b.o.weight, b.mlpNorm, b.gate.weight, b.up.weight, b.down.weight]
        }
        all.append(norm)
        if lmHead !== embed { all.append(lmHead) }
        parameters = all
        rope = RopeTable(rotaryDim: config.D, base: config.rope_theta ?? 10000)
    }

    public var linears: [Linear] { blocks.flatMap { [$0.q, $0.k, $0.v, $0.o, $0.gate, $0.up, $0.down] } }

    /// Index of the lowest block with something trainable (L when none; -1 when the
    /// embedding itself trains, so the backward pass must reach it).
    var lowestTrainedBlock: Int {
        if embed.requiresGrad { return -1 }
        for (l, b) in blocks.enumerated() {
            if b.attnNorm.requiresGrad || b.mlpNorm.requiresGrad || [b.q, b.k, b.v, b.o, b.gate, b.up, b.down].contains(where: { $0.trains }) {
                return l
            }
        }
        return config.L
    }

    public var frozenPrefixLayers: Int { max(lowestTrainedBlock, 0) }

    public func runHead(hidden: Tensor, head: HeadObjective) throws {
        OutputHead.run(hidden: hidden.data, N: hidden.rows, C: config.C, weight: lmHead, head: head, dHidden: nil, scratch: scratch)
    }

    public func run(tokens: [Int32], B: Int, T: Int, head: HeadObjective, train: Bool, hooks: RunHooks?) throws {
        try checkBatch(tokens, B: B, T: T)
        let (C, H, G, D, F, L) = (config.C, config.H, config.G, config.D, config.F, config.L)
        let N = B * T
        let s = scratch
        rope.ensure(T)
        let pos = (0..<N).map { Int32($0 % T) }
        let start = hooks?.resume?.layer ?? 0
        if let r = hooks?.resume {
            guard r.x.count == N * C, start <= frozenPrefixLayers else {
                throw CanonEditError("a saved residual state for layer \(start) does not fit this batch or the layers below it now train")
            }
        }
        let lowest = train ? (start == 0 ? lowestTrainedBlock : max(lowestTrainedBlock, start)) : L
        // Blocks from `lowest` up keep their activations for the backward pass.
        func saved(_ l: Int, _ what: String, _ n: Int) -> UnsafeMutablePointer<Float> {
            train && l >= lowest ? s.get("l\(l).\(what)", n) : s.get("tmp.\(what)", n)
        }

        // x (N, C): the residual stream, updated in place.
        let x = s.get("x", N * C)
        if let r = hooks?.resume { x.update(from: r.x.data, count: N * C) } else {
            for n in 0..<N { (x + n * C).update(from: embed.value.data + Int(tokens[n]) * C, count: C) }
        }

        let xn = s.get("xn", N * C)          // normalised input of a sublayer (N, C)
        let h = s.get("h", N * F)            // SwiGLU output (N, F)
        let scale = 1 / Float(D).squareRoot()
        for l in start..<L {
            hooks?.save(layer: l, x: x, N: N, C: C)
            let b = blocks[l]
            let xIn = saved(l, "x", N * C), rstd1 = saved(l, "rstd1", N)
            let q = saved(l, "q", N * H * D), k = saved(l, "k", N * G * D), v = saved(l, "v", N * G * D)
            let probs = saved(l, "probs", B * H * T * T), att = saved(l, "att", N * H * D)
            let mid = saved(l, "mid", N * C), rstd2 = saved(l, "rstd2", N)
            let gate = saved(l, "gate", N * F), up = saved(l, "up", N * F)
            xIn.update(from: x, count: N * C)
            // attention sublayer: x += o(attention(rope(q(xn)), rope(k(xn)), v(xn)))
            ce_rmsnorm_forward(xn, rstd1, x, b.attnNorm.value.data, Int64(N), Int32(C), Float(config.rms_norm_eps))
            b.q.forward(q, xn, N: N); b.k.forward(k, xn, N: N); b.v.forward(v, xn, N: N)
            applyRope(q, N: N, heads: H, pos: pos, sign: 1)
            applyRope(k, N: N, heads: G, pos: pos, sign: 1)
            ce_attention_forward(att, probs, q, k, v, Int32(B), Int32(T), Int32(H), Int32(G), Int32(D), scale)
            b.o.forward(x, att, N: N, accumulate: true)
            mid.update(from: x, count: N * C)
            // MLP sublayer: x += down(silu(gate(xn)) * up(xn))
            ce_rmsnorm_forward(xn, rstd2, x, b.mlpNorm.value.data, Int64(N), Int32(C), Float(config.rms_norm_eps))
            b.gate.forward(gate, xn, N: N); b.up.forward(up, xn, N: N)
            ce_swiglu_forward(h, gate, up, Int64(N * F))
            b.down.forward(x, h, N: N, accumulate: true)
        }
        // final norm and output layer
        let xFinal = s.get("xfinal", N * C), rstdF = s.get("rstdF", N)
        xFinal.update(from: x, count: N * C)
        hooks?.save(layer: L, x: x, N: N, C: C)
        ce_rmsnorm_forward(xn, rstdF, x, norm.value.data, Int64(N), Int32(C), Float(config.rms_norm_eps))
        hooks?.saveFinal(xn, N: N, C: C)
        let dx = train ? s.get("dx", N * C) : nil      // (N, C) gradient of the residual stream
        let dxn = train ? s.get("dxn", N * C) : nil
        OutputHead.run(hidden: xn, N: N, C: C, weight: lmHead, head: head, dHidden: dxn, scratch: s)
        guard train, let dx, let dxn else { return }

        dx.update(repeating: 0, count: N * C)
        ce_rmsnorm_backward(dx, norm.activeGrad, dxn, xFinal, norm.value.data, rstdF, Int64(N), Int32(C))
        let dh = s.get("dh", N * F), dgate = s.get("dgate", N * F), dup = s.get("dup", N * F)
        let datt = s.get("datt", N * H * D), dq = s.get("dq", N * H * D)
        let dk = s.get("dk", N * G * D), dv = s.get("dv", N * G * D)
        let attScratch = s.get("attScratch", T * T)
        for l in stride(from: L - 1, through: max(lowest, 0), by: -1) {
            let b = blocks[l]
            let xIn = saved(l, "x", N * C), rstd1 = saved(l, "rstd1", N)
            let q = saved(l, "q", N * H * D), k = saved(l, "k", N * G * D), v = saved(l, "v", N * G * D)
            let probs = saved(l, "probs", B * H * T * T), att = saved(l, "att", N * H * D)
            let mid = saved(l, "mid", N * C), rstd2 = saved(l, "rstd2", N)
            let gate = saved(l, "gate", N * F), up = saved(l, "up", N * F)
            let tmpR = s.get("tmpRstd", N)
            // MLP sublayer backward. dx is d(block output); it also flows straight through the residual.
            ce_rmsnorm_forward(xn, tmpR, mid, b.mlpNorm.value.data, Int64(N), Int32(C), Float(config.rms_norm_eps)) // recompute xn
            ce_swiglu_forward(h, gate, up, Int64(N * F))                                                              // recompute h
            dh.update(repeating: 0, count: N * F)
            b.down.backward(dx: dh, dout: dx, x: h, N: N)
            ce_swiglu_backward(dgate, dup, dh, gate, up, Int64(N * F))
            dxn.update(repeating: 0, count: N * C)
            b.gate.backward(dx: dxn, dout: dgate, x: xn, N: N)
            b.up.backward(dx: dxn, dout: dup, x: xn, N: N)
            ce_rmsnorm_backward(dx, b.mlpNorm.activeGrad, dxn, mid, b.mlpNorm.value.data, rstd2, Int64(N), Int32(C))
            // attention sublayer backward
            ce_rmsnorm_forward(xn, tmpR, xIn, b.attnNorm.value.data, Int64(N), Int32(C), Float(config.rms_norm_eps))
            datt.update(repeating: 0, count: N * H * D)
            b.o.backward(dx: datt, dout: dx, x: att, N: N)
            dk.update(repeating: 0, count: N * G * D)
            dv.update(repeating: 0, count: N * G * D)
            ce_attention_backward(dq, dk, dv, attScratch, datt, probs, q, k, v, Int32(B), Int32(T), Int32(H), Int32(G), Int32(D), scale)
            applyRope(dq, N: N, heads: H, pos: pos, sign: -1)
            applyRope(dk, N: N, heads: G, pos: pos, sign: -1)
            dxn.update(repeating: 0, count: N * C)
            b.q.backward(dx: dxn, dout: dq, x: xn, N: N)
            b.k.backward(dx: dxn, dout: dk, x: xn, N: N)
            b.v.backward(dx: dxn, dout: dv, x: xn, N: N)
            ce_rmsnorm_backward(dx, b.attnNorm.activeGrad, dxn, xIn, b.attnNorm.value.data, rstd1, Int64(N), Int32(C))
        }
        // embedding backward: scatter-add each row's gradient into its token's row
        if let dE = embed.activeGrad, lowest < 0, start == 0 {
            for n in 0..<N { ce_add(dE + Int(tokens[n]) * C, dx + n * C, Int64(C)) }
        }
    }

    func ropeRows(_ x: UnsafeMutablePointer<Float>, N: Int, heads: Int, pos: [Int32]) { applyRope(x, N: N, heads: heads, pos: pos, sign: 1) }

    private func applyRope(_ x: UnsafeMutablePointer<Float>, N: Int, heads: Int, pos: [Int32], sign: Float) {
        let interleaved: Int32 = config.rope_interleaved == true ? 1 : 0
        rope.cos.withUnsafeBufferPointer { c in
            rope.sin.withUnsafeBufferPointer { sn in
                ce_rope(x, Int64(N), Int32(heads), Int32(config.D), Int32(config.D), pos, c.baseAddress!, sn.baseAddress!, interleaved, sign)
            }
        }
    }
}
