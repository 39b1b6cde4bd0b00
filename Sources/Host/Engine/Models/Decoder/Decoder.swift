import Foundation
import Kernels
import Support

/// A decoder-only transformer (Llama, GPT-2, GPT-NeoX, GPT-J) with explicit forward and
/// backward passes, described by a DecoderSpec. Shapes: N = B·T rows, C channels, H query
/// heads, G key/value heads of width D, F feed-forward width, V vocabulary.
public final class DecoderLM: CausalLM {
    /// A normalisation layer: weight (C) and, for LayerNorm, bias (C).
    struct Norm { let weight: Parameter; let bias: Parameter? }

    struct Block {
        let norm1: Norm
        let norm2: Norm?  // nil for parallelOneNorm
        let q, k, v: Linear?  // separate projections
        let qkv: Linear?  // fused projection ((H+2G)·D, C)
        let o: Linear  // (C, H·D)
        let gate: Linear?  // (F, C), SwiGLU only
        let up, down: Linear  // (F, C), (C, F)
        var qNorm: Norm? = nil, kNorm: Norm? = nil  // (D) each, qkNorm only
        var postAttnNorm: Norm? = nil, postMLPNorm: Norm? = nil  // (C) each, sandwichNorms only
        var linears: [Linear] { [q, k, v, qkv].compactMap { $0 } + [o] + [gate].compactMap { $0 } + [up, down] }
        var norms: [Parameter] {
            [norm1, norm2, qNorm, kNorm, postAttnNorm, postMLPNorm].compactMap { $0 }.flatMap {
                [$0.weight, $0.bias].compactMap { $0 }
            }
        }
    }

    public let spec: DecoderSpec
    /// The architecture's own config (LlamaConfig, GPT2Config, …), for export.
    public let sourceConfig: Any?
    let embed: Parameter  // (V, C)
    let positions: Parameter?  // (P, C)
    let blocks: [Block]
    let finalNorm: Norm
    public let head: Parameter  // (V, C); the embedding itself when tied
    public let headBias: Parameter?  // (V)
    public let parameters: [Parameter]
    var rope: RopeTable?
    var localRope: RopeTable?  // sliding-window layers' own base (Gemma 3)
    let scratch = Scratch()
    /// A vector added to the residual stream leaving one block at one position (MEMIT's δ).
    public var residualDelta: ResidualDelta?
    /// Training passes keep only each block's input and run the block again in backward (one
    /// block's activations held at a time instead of every trained block's); same numbers.
    public var recomputeActivations = false
    /// Methods' interventions on block outputs (BlockOutputHook); off while `hooksEnabled` is
    /// false (the unedited model).
    public internal(set) var blockHooks: [BlockOutputHook] = []
    public var hooksEnabled = true

    public var architecture: String { spec.architecture }
    public var vocabSize: Int { spec.V }
    public var contextLength: Int { spec.context }
    public var layerCount: Int { spec.L }
    public var linears: [Linear] { blocks.flatMap(\.linears) }

    /// `load(name, shape)` returns the tensor of a Hugging Face name, shape in PyTorch order.
    public init(
        spec: DecoderSpec, names n: DecoderNames, sourceConfig: Any? = nil, source: String,
        load: (String, [Int]) throws -> Tensor
    ) throws {
        try spec.validate(source)
        self.spec = spec
        self.sourceConfig = sourceConfig
        let s = spec
        func p(_ name: String, _ shape: [Int]) throws -> Parameter { Parameter(name, try load(name, shape)) }
        func norm(_ name: String, width: Int = s.C) throws -> Norm {
            Norm(
                weight: try p(name + ".weight", [width]), bias: s.norm == .layer ? try p(name + ".bias", [width]) : nil)
        }
        func lin(_ name: String, _ out: Int, _ inp: Int, bias: Bool) throws -> Linear {
            Linear(
                name: name, weight: try p(name + ".weight", [out, inp]), bias: bias ? try p(name + ".bias", [out]) : nil
            )
        }
        embed = try p(n.embed, [s.V, s.C])
        positions = s.learnedPositions ? try p(n.positions!, [s.context, s.C]) : nil
        var blocks: [Block] = []
        for l in 0..<s.L {
            let pre = n.layer(l)
            let separate = s.qkv == .separate
            var block = Block(
                norm1: try norm(pre + n.attnNorm),
                norm2: s.residual == .parallelOneNorm ? nil : try norm(pre + n.mlpNorm!),
                q: separate ? try lin(pre + n.q, s.H * s.D, s.C, bias: s.attentionBias) : nil,
                k: separate ? try lin(pre + n.k, s.G * s.D, s.C, bias: s.attentionBias) : nil,
                v: separate ? try lin(pre + n.v, s.G * s.D, s.C, bias: s.attentionBias) : nil,
                qkv: separate ? nil : try lin(pre + n.qkv, (s.H + 2 * s.G) * s.D, s.C, bias: s.attentionBias),
                o: try lin(pre + n.o, s.C, s.H * s.D, bias: s.outputBias),
                gate: s.mlp.isGated ? try lin(pre + n.gate!, s.F, s.C, bias: s.mlpBias) : nil,
                up: try lin(pre + n.up, s.F, s.C, bias: s.mlpBias),
                down: try lin(pre + n.down, s.C, s.F, bias: s.mlpBias))
            if s.qkNorm {
                block.qNorm = try norm(pre + n.qNorm!, width: s.D)
                block.kNorm = try norm(pre + n.kNorm!, width: s.D)
            }
            if s.sandwichNorms {
                block.postAttnNorm = try norm(pre + n.postAttnNorm!)
                block.postMLPNorm = try norm(pre + n.postMLPNorm!)
            }
            blocks.append(block)
        }
        self.blocks = blocks
        finalNorm = try norm(n.finalNorm)
        head = s.tiedHead ? embed : try p(n.head! + ".weight", [s.V, s.C])
        headBias = s.headBias ? try p(n.head! + ".bias", [s.V]) : nil
        var all = [embed] + [positions].compactMap { $0 }
        for b in blocks { all += b.norms + b.linears.flatMap { [$0.weight, $0.bias].compactMap { $0 } } }
        all += [finalNorm.weight, finalNorm.bias].compactMap { $0 }
        if head !== embed { all.append(head) }
        if let headBias { all.append(headBias) }
        parameters = all
        rope = s.rotaryDims > 0 ? RopeTable(rotaryDim: s.rotaryDims, base: s.rotaryBase, scaling: s.rotaryScaling) : nil
        localRope = s.localRotaryBase.map { RopeTable(rotaryDim: s.rotaryDims, base: $0) }
    }

    /// Index of the lowest block with something trainable (L when none; -1 when the
    /// embedding or positions train, so the backward pass must reach them).
    var lowestTrainedBlock: Int { lowestBlock(trainedOnly: true) }

    /// Blocks below the lowest one that trains or was edited: their outputs equal the unedited
    /// model's, so residual states saved there stay valid.
    public var frozenPrefixLayers: Int { max(lowestBlock(trainedOnly: false), 0) }

    func lowestBlock(trainedOnly: Bool) -> Int {
        func touched(_ p: Parameter?) -> Bool { p.map { $0.requiresGrad || (!trainedOnly && $0.isEdited) } ?? false }
        if touched(embed) || touched(positions) { return -1 }
        func blockTouched(_ b: Block) -> Bool {
            b.norms.contains(where: touched) || b.linears.contains { trainedOnly ? $0.trains : $0.changed }
        }
        let first = blocks.firstIndex(where: blockTouched) ?? spec.L
        var lowest = first
        if let rd = residualDelta, touched(rd.value) { lowest = min(lowest, rd.layer) }
        // A hook changes its block's output: the backward pass must reach it, and nothing
        // saved above its block stays valid.
        for h in blockHooks where !trainedOnly || h.trains { lowest = min(lowest, h.layer) }
        return lowest
    }

    public func runHead(hidden: Tensor, head objective: HeadObjective) throws {
        OutputHead.run(
            hidden: hidden.data, N: hidden.rows, C: spec.C, weight: head, bias: headBias, head: objective,
            dHidden: nil, scratch: scratch)
    }

    // MARK: - pieces shared by forward, backward and decoding

    func normForward(
        _ nm: Norm, out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
        rstd: UnsafeMutablePointer<Float>,
        x: UnsafePointer<Float>, N: Int
    ) {
        let eps = Float(spec.normEps), C = nm.weight.value.count  // C, or D for q/k norms
        let (w, b) = (nm.weight.value.data, nm.bias?.value.data)
        // Each row by itself, so split over threads (a 16 × 64 forward spent 2% of its time in
        // these on one thread while the other waited).
        Parallel.split(N, cost: 4 * C) { _, r in
            let (o, n, c) = (r.lowerBound, Int64(r.count), Int32(C))
            switch spec.norm {
            case .rms: ce_rmsnorm_forward(out + o * C, rstd + o, x + o * C, w, n, c, eps)
            case .layer: ce_layernorm_forward(out + o * C, mean + o, rstd + o, x + o * C, w, b, n, c, eps)
            }
        }
    }

    /// dx += d(norm)/dx · dout; weight and bias gradients when trained.
    func normBackward(
        _ nm: Norm, dx: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, x: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, N: Int
    ) {
        let C = Int32(nm.weight.value.count)
        switch spec.norm {
        case .rms: ce_rmsnorm_backward(dx, nm.weight.activeGrad, dout, x, nm.weight.value.data, rstd, Int64(N), C)
        case .layer:
            ce_layernorm_backward(
                dx, nm.weight.activeGrad, nm.bias?.activeGrad, dout, x, nm.weight.value.data, mean, rstd, Int64(N), C)
        }
    }

    /// q (N, H·D), k and v (N, G·D) from xn, before rotary.
    func projectQKV(
        _ b: Block, xn: UnsafePointer<Float>, q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>,
        v: UnsafeMutablePointer<Float>, N: Int
    ) {
        if let bq = b.q, let bk = b.k, let bv = b.v {
            bq.forward(q, xn, N: N); bk.forward(k, xn, N: N); bv.forward(v, xn, N: N)
            return
        }
        let (H, D) = (spec.H, spec.D), W = 3 * H * D
        let fused = scratch.get("qkv", N * W)  // (N, 3·H·D)
        b.qkv!.forward(fused, xn, N: N)
        for n in 0..<N {
            let row = fused + n * W
            for h in 0..<H {
                let (qo, ko, vo) = fusedOffsets(head: h)
                (q + n * H * D + h * D).update(from: row + qo, count: D)
                (k + n * H * D + h * D).update(from: row + ko, count: D)
                (v + n * H * D + h * D).update(from: row + vo, count: D)
            }
        }
    }

    /// Where head h's q, k and v start in a row of the fused projection: [q | k | v] (GPT-2)
    /// or [q_h k_h v_h] per head (GPT-NeoX).
    func fusedOffsets(head h: Int) -> (q: Int, k: Int, v: Int) {
        let (H, D) = (spec.H, spec.D)
        return spec.qkv == .fusedPerHead
            ? (h * 3 * D, h * 3 * D + D, h * 3 * D + 2 * D) : (h * D, H * D + h * D, 2 * H * D + h * D)
    }

    /// dxn += the projections' backward from dq, dk, dv; weight gradients when trained.
    func projectQKVBackward(
        _ b: Block, dxn: UnsafeMutablePointer<Float>, dq: UnsafePointer<Float>, dk: UnsafePointer<Float>,
        dv: UnsafePointer<Float>, xn: UnsafePointer<Float>, N: Int
    ) {
        if let bq = b.q, let bk = b.k, let bv = b.v {
            bq.backward(dx: dxn, dout: dq, x: xn, N: N)
            bk.backward(dx: dxn, dout: dk, x: xn, N: N)
            bv.backward(dx: dxn, dout: dv, x: xn, N: N)
            return
        }
        let (H, D) = (spec.H, spec.D), W = 3 * H * D
        let fused = scratch.get("dqkv", N * W)
        for n in 0..<N {
            let row = fused + n * W
            for h in 0..<H {
                let (qo, ko, vo) = fusedOffsets(head: h)
                (row + qo).update(from: dq + n * H * D + h * D, count: D)
                (row + ko).update(from: dk + n * H * D + h * D, count: D)
                (row + vo).update(from: dv + n * H * D + h * D, count: D)
            }
        }
        b.qkv!.backward(dx: dxn, dout: fused, x: xn, N: N)
    }

    /// Rotates q or k rows of layer l (sliding-window layers use their own base when set).
    func applyRope(_ x: UnsafeMutablePointer<Float>, N: Int, heads: Int, pos: [Int32], sign: Float, layer l: Int) {
        let local = spec.isSliding(l) && localRope != nil
        guard var table = local ? localRope : rope else { return }
        table.ensure(Int(pos.max() ?? 0) + 1)
        if local { localRope = table } else { rope = table }
        let rowFloats = heads * spec.D
        table.cos.withUnsafeBufferPointer { c in
            table.sin.withUnsafeBufferPointer { sn in
                pos.withUnsafeBufferPointer { p in
                    // Rows are independent: split over threads.
                    Parallel.split(N, cost: 2 * rowFloats) { _, r in
                        ce_rope(
                            x + r.lowerBound * rowFloats, Int64(r.count), Int32(heads), Int32(spec.D),
                            Int32(spec.rotaryDims), p.baseAddress! + r.lowerBound, c.baseAddress!, sn.baseAddress!,
                            spec.rotaryInterleaved ? 1 : 0, sign)
                    }
                }
            }
        }
    }

    /// h (N, F) from the MLP's pre-activations.
    func mlpActivate(_ h: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>?, up: UnsafePointer<Float>, n: Int) {
        // Elementwise, so split over threads (each element computed as the serial loop would).
        Parallel.split(n, align: 64, cost: 16) { _, r in
            let (h, up, m, o) = (h + r.lowerBound, up + r.lowerBound, Int64(r.count), r.lowerBound)
            switch spec.mlp {
            case .swiglu: ce_swiglu_forward(h, gate! + o, up, m)
            case .gegluTanh: ce_geglu_forward(h, gate! + o, up, m)
            case .geluTanh: ce_gelu_forward(h, up, m, 1)
            case .geluErf: ce_gelu_forward(h, up, m, 0)
            }
        }
    }

    /// Embedding rows (times embedScale; plus learned positions) into x (N, C).
    func embedTokens(_ x: UnsafeMutablePointer<Float>, tokens: [Int32], pos: [Int32]) {
        let C = spec.C
        // An embedding still in its stored format: decode only the rows asked for.
        let stored = embed.value.unmaterialized
        for n in 0..<tokens.count {
            if let stored {
                stored.decode(rows: Int(tokens[n])..<(Int(tokens[n]) + 1), into: x + n * C)
            } else {
                (x + n * C).update(from: embed.value.data + Int(tokens[n]) * C, count: C)
            }
            if spec.embedScale != 1 { for c in 0..<C { x[n * C + c] *= spec.embedScale } }
            if let positions { ce_add(x + n * C, positions.value.data + Int(pos[n]) * C, Int64(C)) }
        }
    }
}
