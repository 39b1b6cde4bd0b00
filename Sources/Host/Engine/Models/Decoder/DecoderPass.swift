import Foundation
import Kernels
import Support

extension DecoderLM {
    /// Block l on the residual stream x (N, C), updated in place; its activations go to `a`.
    /// With `keeps` false no backward pass reads them, so copies only backward needs are skipped.
    func blockForward(
        _ l: Int, x: UnsafeMutablePointer<Float>, a: BlockActivations, B: Int, T: Int, pos: [Int32], keeps: Bool
    ) {
        let (C, H, G, D, F, N) = (spec.C, spec.H, spec.G, spec.D, spec.F, B * T)
        let b = blocks[l]
        let xn = scratch.get("xn", N * C)  // a sublayer's normalised input (N, C)
        let h = scratch.get("h", N * F)  // MLP activations (N, F)
        // x entering the block: parallel residuals read it again; backward reads it.
        if keeps || spec.residual != .sequential { a.xIn.update(from: x, count: N * C) }
        // attention sublayer on n1(x)
        normForward(b.norm1, out: xn, mean: a.mean1, rstd: a.rstd1, x: x, N: N)
        projectQKV(b, xn: xn, q: a.q, k: a.k, v: a.v, N: N)
        normalizeHeads(b, a, N: N, scratchMean: scratch.get("tmp.headMean", N * H))
        applyRope(a.q, N: N, heads: H, pos: pos, sign: 1, layer: l)
        applyRope(a.k, N: N, heads: G, pos: pos, sign: 1, layer: l)
        BatchAttention.forward(
            out: a.att, probs: a.probs, q: a.q, k: a.k, v: a.v, B: B, T: T, H: H, G: G, D: D,
            scale: spec.attentionScale(layer: l), window: spec.window(layer: l))
        if b.postAttnNorm != nil {
            b.o.forward(a.attnOut, a.att, N: N)
            addToResidual(x, out: a.attnOut, postNorm: b.postAttnNorm, rstd: a.attnRstd, N: N)
        } else {
            b.o.forward(x, a.att, N: N, accumulate: true)
        }
        // MLP sublayer on n2(x) (sequential), n2(x_in) (two norms) or n1(x_in) (one norm)
        switch spec.residual {
        case .sequential:
            if keeps { a.mid.update(from: x, count: N * C) }
            normForward(b.norm2!, out: xn, mean: a.mean2, rstd: a.rstd2, x: x, N: N)
        case .parallelTwoNorms:
            normForward(b.norm2!, out: xn, mean: a.mean2, rstd: a.rstd2, x: a.xIn, N: N)
        case .parallelOneNorm:
            break  // xn still holds n1(x_in)
        }
        b.gate?.forward(a.gate, xn, N: N)
        b.up.forward(a.up, xn, N: N)
        mlpActivate(h, gate: a.gate, up: a.up, n: N * F)
        if b.postMLPNorm != nil {
            b.down.forward(a.mlpOut, h, N: N)
            addToResidual(x, out: a.mlpOut, postNorm: b.postMLPNorm, rstd: a.mlpRstd, N: N)
        } else {
            b.down.forward(x, h, N: N, accumulate: true)
        }
        if let rd = residualDelta, rd.layer == l, rd.position >= 0, rd.position < T {
            for bi in 0..<B { ce_add(x + (bi * T + rd.position) * C, rd.value.value.data, Int64(C)) }
        }
    }
}

extension DecoderLM {
    /// The blocks up to and including `layer`, for what their modules see (inputs captured
    /// through a Linear's slot); nothing above runs.
    public func runBlocks(tokens: [Int32], B: Int, T: Int, through layer: Int) throws {
        _ = try forward(tokens: tokens, B: B, T: T, train: false, hooks: nil, stopBefore: layer + 1)
    }

    /// The block a linear layer belongs to.
    public func layer(of linear: Linear) -> Int? {
        blocks.firstIndex { $0.linears.contains { $0.name == linear.name } }
    }

    /// Block l's MLP output projection (down_proj, c_proj, dense_4h_to_h, fc_out: the
    /// architecture's own name), or nil outside the model.
    public func mlpOutput(layer l: Int) -> Linear? { blocks.indices.contains(l) ? blocks[l].down : nil }
}

/// What a forward pass leaves for its backward pass.
struct DecoderPassState {
    let tokens: [Int32], pos: [Int32]
    let B: Int, T: Int, start: Int, lowest: Int
    let layout: RowLayout
    let hidden: UnsafeMutablePointer<Float>  // final normalised hidden states (N, C)
}

extension DecoderLM {
    public func run(
        tokens: [Int32], B: Int, T: Int, head objective: HeadObjective, train: Bool, hooks: RunHooks?
    ) throws {
        let st = try forward(tokens: tokens, B: B, T: T, train: train, hooks: hooks)
        let dxn = train ? scratch.get("dxn", B * T * spec.C) : nil
        OutputHead.run(
            hidden: st.hidden, N: B * T, C: spec.C, weight: head, bias: headBias, head: objective, dHidden: dxn,
            scratch: scratch)
        if let dxn { try backward(st, dHidden: dxn) }
    }

    /// Runs the blocks and the final norm; returns the hidden states the output layer reads.
    /// With `train`, blocks from the lowest trained one keep their activations for `backward`.
    /// With `stopBefore` it runs only the blocks below that layer and returns the residual
    /// stream entering it, un-normalised (a companion Backpack reads SmolLM2's block-8 states).
    func forward(
        tokens: [Int32], B: Int, T: Int, train: Bool, hooks: RunHooks?, stopBefore: Int? = nil
    ) throws -> DecoderPassState {
        try checkBatch(tokens, B: B, T: T)
        let (C, L) = (spec.C, spec.L)
        let N = B * T
        let s = scratch
        let pos = (0..<N).map { Int32($0 % T) }
        let start = hooks?.resume?.layer ?? 0
        if let r = hooks?.resume {
            guard r.x.count == N * C, start <= frozenPrefixLayers else {
                throw CanonEditError(
                    "a saved residual state for layer \(start) does not fit this batch or the layers below it now train"
                )
            }
        }
        let lowest = train ? (start == 0 ? lowestTrainedBlock : max(lowestTrainedBlock, start)) : L
        // Blocks from `lowest` up keep their activations for the backward pass; others share one
        // set. With recomputation they keep only their input, and backward runs them again.
        let keepAll = train && !recomputeActivations
        func saved(_ l: Int, _ what: String, _ n: Int) -> UnsafeMutablePointer<Float> {
            keepAll && l >= lowest ? s.get("l\(l).\(what)", n) : s.get("tmp.\(what)", n)
        }
        func acts(_ l: Int) -> BlockActivations { blockActivations(B: B, T: T) { saved(l, $0, $1) } }

        // x (N, C): the residual stream, updated in place.
        let x = s.get("x", N * C)
        if let r = hooks?.resume {
            x.update(from: r.x.data, count: N * C)
        } else {
            embedTokens(x, tokens: tokens, pos: pos)
        }
        let end = min(stopBefore ?? L, L)
        let layout = hooks?.layout ?? .unprompted(B: B, T: T)
        for l in start..<end {
            hooks?.save(layer: l, x: x, N: N, C: C)
            if train && recomputeActivations && l >= lowest { s.get("l\(l).x", N * C).update(from: x, count: N * C) }
            blockForward(l, x: x, a: acts(l), B: B, T: T, pos: pos, keeps: keepAll && l >= lowest)
            for (i, h) in outputHooks(at: l).enumerated() {
                // The hook's input, for its backward pass.
                if train && l >= lowest { s.get("l\(l).hook\(i)", N * C).update(from: x, count: N * C) }
                try h.forward(x, rows: HookRows(layer: l, B: B, T: T, C: C, start: 0, layout: layout, training: train))
            }
        }
        hooks?.save(layer: end, x: x, N: N, C: C)
        if stopBefore != nil {
            precondition(!train, "a partial pass is for inference")
            return DecoderPassState(
                tokens: tokens, pos: pos, B: B, T: T, start: start, lowest: L, layout: layout, hidden: x)
        }
        // final norm and output layer
        let xFinal = s.get("xfinal", N * C), meanF = s.get("meanF", N), rstdF = s.get("rstdF", N)
        xFinal.update(from: x, count: N * C)
        let xn = s.get("xn", N * C)
        normForward(finalNorm, out: xn, mean: meanF, rstd: rstdF, x: x, N: N)
        hooks?.saveFinal(xn, N: N, C: C)
        return DecoderPassState(
            tokens: tokens, pos: pos, B: B, T: T, start: start, lowest: lowest, layout: layout, hidden: xn)
    }

    /// Backpropagates d(final hidden states) (N, C) into every trained parameter's gradient.
    func backward(_ st: DecoderPassState, dHidden dxnIn: UnsafePointer<Float>) throws {
        let (C, H, G, D, F, L) = (spec.C, spec.H, spec.G, spec.D, spec.F, spec.L)
        let (B, T, tokens, pos, start, lowest) = (st.B, st.T, st.tokens, st.pos, st.start, st.lowest)
        let N = B * T
        let s = scratch
        func saved(_ l: Int, _ what: String, _ n: Int) -> UnsafeMutablePointer<Float> { s.get("l\(l).\(what)", n) }
        func acts(_ l: Int) -> BlockActivations {
            guard recomputeActivations else { return blockActivations(B: B, T: T) { saved(l, $0, $1) } }
            // Block l again from its saved input, into the one shared set of activations.
            let a = blockActivations(B: B, T: T) { s.get("tmp.\($0)", $1) }, x = s.get("recompute.x", N * C)
            x.update(from: saved(l, "x", N * C), count: N * C)
            blockForward(l, x: x, a: a, B: B, T: T, pos: pos, keeps: true)
            return a
        }
        let xn = s.get("xn", N * C), h = s.get("h", N * F), dxn = s.get("dxnB", N * C)
        let xFinal = s.get("xfinal", N * C), meanF = s.get("meanF", N), rstdF = s.get("rstdF", N)
        // dx (N, C) is the gradient of the residual stream, carried down in place.
        let dx = s.get("dx", N * C)
        dx.update(repeating: 0, count: N * C)
        normBackward(finalNorm, dx: dx, dout: dxnIn, x: xFinal, mean: meanF, rstd: rstdF, N: N)
        let dh = s.get("dh", N * F), dgate = s.get("dgate", N * F), dup = s.get("dup", N * F)
        let dxnM = s.get("dxnM", N * C), dacc = s.get("dacc", N * C)
        let datt = s.get("datt", N * H * D), dq = s.get("dq", N * H * D)
        let dk = s.get("dk", N * G * D), dv = s.get("dv", N * G * D)
        let attScratch = s.get("attScratch", Parallel.threads * T * T)
        let tmpMean = s.get("tmpMean", N), tmpRstd = s.get("tmpRstd", N)
        for l in stride(from: L - 1, through: max(lowest, 0), by: -1) {
            // dx is d(block l's output after its hooks): back through them, last first.
            for (i, h) in outputHooks(at: l).enumerated().reversed() {
                let rows = HookRows(layer: l, B: B, T: T, C: C, start: 0, layout: st.layout, training: true)
                try h.backward(dx, input: s.get("l\(l).hook\(i)", N * C), rows: rows)
            }
            let b = blocks[l], a = acts(l)
            // dx is now d(block l's output): the residual delta added there takes its share.
            if let rd = residualDelta, rd.layer == l, rd.position >= 0, rd.position < T, let g = rd.value.activeGrad {
                for bi in 0..<B { ce_add(g, dx + (bi * T + rd.position) * C, Int64(C)) }
            }
            // MLP branch: recompute its input and activations, then dout = dx.
            let mlpIn: (Norm, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) =
                spec.residual == .sequential
                ? (b.norm2!, a.mid, a.mean2, a.rstd2)
                : spec.residual == .parallelTwoNorms
                    ? (b.norm2!, a.xIn, a.mean2, a.rstd2) : (b.norm1, a.xIn, a.mean1, a.rstd1)
            normForward(mlpIn.0, out: xn, mean: tmpMean, rstd: tmpRstd, x: mlpIn.1, N: N)
            mlpActivate(h, gate: a.gate, up: a.up, n: N * F)
            dh.update(repeating: 0, count: N * F)
            b.down.backward(
                dx: dh, dout: postNormBackward(b.postMLPNorm, dout: dx, out: a.mlpOut, rstd: a.mlpRstd, N: N), x: h,
                N: N)
            Parallel.split(N * F, align: 64, cost: 16) { _, r in
                let (o, m) = (r.lowerBound, Int64(r.count))
                switch spec.mlp {
                case .swiglu: ce_swiglu_backward(dgate + o, dup + o, dh + o, a.gate + o, a.up + o, m)
                case .gegluTanh: ce_geglu_backward(dgate + o, dup + o, dh + o, a.gate + o, a.up + o, m)
                case .geluTanh: ce_gelu_backward(dup + o, dh + o, a.up + o, m, 1)
                case .geluErf: ce_gelu_backward(dup + o, dh + o, a.up + o, m, 0)
                }
            }
            dxnM.update(repeating: 0, count: N * C)
            b.gate?.backward(dx: dxnM, dout: dgate, x: xn, N: N)
            b.up.backward(dx: dxnM, dout: dup, x: xn, N: N)
            // Sequential: the attention sublayer's output gradient is d(mid) = dx + n2's backward.
            if spec.residual == .sequential {
                normBackward(b.norm2!, dx: dx, dout: dxnM, x: a.mid, mean: a.mean2, rstd: a.rstd2, N: N)
            }
            // attention branch, dout = dx
            normForward(b.norm1, out: xn, mean: tmpMean, rstd: tmpRstd, x: a.xIn, N: N)
            datt.update(repeating: 0, count: N * H * D)
            b.o.backward(
                dx: datt, dout: postNormBackward(b.postAttnNorm, dout: dx, out: a.attnOut, rstd: a.attnRstd, N: N),
                x: a.att, N: N)
            dk.update(repeating: 0, count: N * G * D)
            dv.update(repeating: 0, count: N * G * D)
            BatchAttention.backward(
                dq: dq, dk: dk, dv: dv, scratch: attScratch, dout: datt, probs: a.probs, q: a.q, k: a.k, v: a.v, B: B,
                T: T, H: H, G: G, D: D, scale: spec.attentionScale(layer: l))
            applyRope(dq, N: N, heads: H, pos: pos, sign: -1, layer: l)
            applyRope(dk, N: N, heads: G, pos: pos, sign: -1, layer: l)
            headNormsBackward(b, a, dq: dq, dk: dk, N: N)
            // n1's input gradient; with one shared norm the MLP branch's gradient joins it.
            let dxn1 = spec.residual == .parallelOneNorm ? dxnM : dxn
            if spec.residual != .parallelOneNorm { dxn1.update(repeating: 0, count: N * C) }
            projectQKVBackward(b, dxn: dxn1, dq: dq, dk: dk, dv: dv, xn: xn, N: N)
            // Parallel blocks add both norms' backward only now: dx was the dout of both branches.
            dacc.update(repeating: 0, count: N * C)
            normBackward(b.norm1, dx: dacc, dout: dxn1, x: a.xIn, mean: a.mean1, rstd: a.rstd1, N: N)
            if spec.residual == .parallelTwoNorms {
                normBackward(b.norm2!, dx: dacc, dout: dxnM, x: a.xIn, mean: a.mean2, rstd: a.rstd2, N: N)
            }
            ce_add(dx, dacc, Int64(N * C))
        }
        // embedding (and learned positions) backward: scatter-add each row's gradient
        if lowest < 0, start == 0 {
            if let dE = embed.activeGrad {
                let k = spec.embedScale
                for n in 0..<N {
                    let row = dE + Int(tokens[n]) * C, d = dx + n * C
                    if k == 1 { ce_add(row, d, Int64(C)) } else { for c in 0..<C { row[c] += k * d[c] } }
                }
            }
            if let positions, let dP = positions.activeGrad {
                for n in 0..<N { ce_add(dP + Int(pos[n]) * C, dx + n * C, Int64(C)) }
            }
        }
    }
}
