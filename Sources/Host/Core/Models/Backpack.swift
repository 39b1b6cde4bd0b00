import Kernels

/// Backpack settings: GPT-2's config plus the sense count (stanfordnlp/backpack-gpt2).
public struct BackpackConfig: Codable, Equatable {
    public var gpt2: GPT2Config
    public var num_senses: Int
    public var sense_intermediate_scale: Int?

    public init(from decoder: Swift.Decoder) throws {
        gpt2 = try GPT2Config(from: decoder)
        let c = try decoder.container(keyedBy: Keys.self)
        num_senses = try c.decodeIfPresent(Int.self, forKey: .num_senses) ?? 16
        sense_intermediate_scale = try c.decodeIfPresent(Int.self, forKey: .sense_intermediate_scale)
    }
    public func encode(to encoder: Swift.Encoder) throws {
        try gpt2.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(num_senses, forKey: .num_senses)
        try c.encodeIfPresent(sense_intermediate_scale, forKey: .sense_intermediate_scale)
    }
    enum Keys: String, CodingKey { case num_senses, sense_intermediate_scale }
}

/// The Backpack language model (Hewitt et al. 2023) as stanfordnlp/backpack-gpt2 computes it:
///   H = GPT-2(x)                                          contextualization (N, C)
///   α[ℓ] = causal softmax(q_ℓ k_ℓᵀ / √d), [q | k] = H Wᵀ + b   weights, k senses of width d
///   S[ℓ] = senses of each token from its embedding alone   sense network (N, k·C)
///   o = Σ_ℓ α[ℓ] S[ℓ]; logits = o Eᵀ                       no final norm, no 1/k
/// Sense deltas (`senseDeltas`) add a trainable vector to chosen (token, sense) pairs.
public final class BackpackLM: CausalLM {
    public let config: BackpackConfig
    let gpt2: DecoderLM
    let k: Int, d: Int, F: Int
    public let C: Int
    // sense network (weights stored (out, in))
    let ln, ln1, ln2: (Parameter, Parameter)
    let fc, proj, finalFc, finalProj: Linear          // C→F, F→C, C→F, F→k·C
    let weightNet: Linear                              // C → 2·k·d
    public let parameters: [Parameter]
    public let senseDeltas = SenseDeltas()
    let scratch = Scratch()

    public var architecture: String { "backpack" }
    public var vocabSize: Int { gpt2.vocabSize }
    public var contextLength: Int { gpt2.contextLength }
    public var layerCount: Int { gpt2.layerCount }
    public var linears: [Linear] { gpt2.linears + [fc, proj, finalFc, finalProj, weightNet] }
    public var numSenses: Int { k }
    var embed: Parameter { gpt2.embed }

    /// `shape(name)` is the stored (PyTorch-order) shape of a tensor, `load(name, shape)` the tensor.
    public init(config: BackpackConfig, source: String, shape: (String) -> [Int]?, load: (String, [Int]) throws -> Tensor) throws {
        self.config = config
        var g = try config.gpt2.spec(source: source)
        g.architecture = "backpack-gpt2"
        gpt2 = try DecoderLM(spec: g, names: GPT2Config.names(prefix: "backpack.gpt2_model."), sourceConfig: config.gpt2, source: source,
                             load: load)
        let (C, k) = (g.C, config.num_senses), F = (config.sense_intermediate_scale ?? 4) * g.C
        self.C = C
        self.k = k
        self.F = F
        // The weight network's width per sense comes from its stored shape: (2·k·d, C).
        let wn = "backpack.sense_weight_net.c_attn"
        guard let rows = shape(wn + ".weight")?.first, rows % (2 * k) == 0 else {
            throw CanonEditError("\(source): \(wn).weight is missing or its rows are not a multiple of 2 × \(k) senses")
        }
        let d = rows / (2 * k)
        self.d = d
        func p(_ n: String, _ s: [Int]) throws -> Parameter { Parameter(n, try load(n, s)) }
        func norm(_ n: String) throws -> (Parameter, Parameter) { (try p(n + ".weight", [C]), try p(n + ".bias", [C])) }
        func lin(_ n: String, _ o: Int, _ i: Int) throws -> Linear {
            Linear(name: n, weight: try p(n + ".weight", [o, i]), bias: try p(n + ".bias", [o]))
        }
        let sn = "backpack.sense_network."
        ln = try norm(sn + "ln")
        ln1 = try norm(sn + "block.ln_1")
        ln2 = try norm(sn + "block.ln_2")
        fc = try lin(sn + "block.mlp.c_fc", F, C)
        proj = try lin(sn + "block.mlp.c_proj", C, F)
        finalFc = try lin(sn + "final_mlp.c_fc", F, C)
        finalProj = try lin(sn + "final_mlp.c_proj", k * C, F)
        weightNet = try lin(wn, 2 * k * d, C)
        parameters = gpt2.parameters + [ln.0, ln.1, ln1.0, ln1.1, ln2.0, ln2.1] + [fc, proj, finalFc, finalProj, weightNet].flatMap { [$0.weight, $0.bias!] }
    }

    public var frozenPrefixLayers: Int { 0 }

    public func runHead(hidden: Tensor, head: HeadObjective) throws {
        OutputHead.run(hidden: hidden.data, N: hidden.rows, C: C, weight: embed, head: head, dHidden: nil, scratch: scratch)
    }

    var senseNetTrains: Bool { [ln.0, ln.1, ln1.0, ln1.1, ln2.0, ln2.1].contains(where: \.requiresGrad) || [fc, proj, finalFc, finalProj].contains(where: \.trains) || embed.requiresGrad }
    var weightsTrain: Bool { weightNet.trains || gpt2.lowestTrainedBlock < gpt2.spec.L || gpt2.finalNorm.weight.requiresGrad || gpt2.finalNorm.bias?.requiresGrad == true }

    /// α (B, k, T, T): the contextualization weights for a batch.
    public func contextualization(tokens: [Int32], B: Int, T: Int) throws -> Tensor {
        let st = try gpt2.forward(tokens: tokens, B: B, T: T, train: false, hooks: nil)
        let alpha = Tensor([B, k, T, T])
        weights(hidden: st.hidden, B: B, T: T, alpha: alpha.data, qk: scratch.get("qk", B * T * 2 * k * d))
        return alpha
    }

    /// out (V, k) += Σ_{i ∈ rows} Σ_{j: tokens[j] = v} α[ℓ, i, j] for one sequence: how much
    /// weight the rows' predictions give to sense ℓ of each word v.
    /// A sequence longer than the context is taken in consecutive windows of the context length.
    public func addSenseWeights(tokens: [Int32], rows: [Int], into out: UnsafeMutablePointer<Float>) throws {
        let T = tokens.count
        guard rows.allSatisfy({ $0 >= 0 && $0 < T }) else { throw CanonEditError("sense weight rows outside the sequence of \(T)") }
        if T > contextLength {
            for start in stride(from: 0, to: T, by: contextLength) {
                let end = min(T, start + contextLength)
                let inside = rows.filter { $0 >= start && $0 < end }.map { $0 - start }
                if !inside.isEmpty { try addSenseWeights(tokens: Array(tokens[start..<end]), rows: inside, into: out) }
            }
            return
        }
        let alpha = try contextualization(tokens: tokens, B: 1, T: T)
        for l in 0..<k {
            for i in rows {
                for j in 0...i { out[Int(tokens[j]) * k + l] += alpha[(l * T + i) * T + j] }
            }
        }
    }

    /// Sense vectors (n, k, C) of the given token ids, deltas included.
    public func senses(of tokens: [Int32]) throws -> Tensor {
        let out = Tensor([tokens.count, k, C])
        senseForward(tokens, out: out.data, train: false)
        return out
    }

    /// The output hidden states (N, C) without and with the sense deltas, from one pass of the
    /// contextualization network (α does not depend on the senses, so it is computed once).
    public func hiddenWithAndWithoutDeltas(tokens: [Int32], B: Int, T: Int) throws -> (original: Tensor, edited: Tensor) {
        try checkBatch(tokens, B: B, T: T)
        let N = B * T, s = scratch
        let st = try gpt2.forward(tokens: tokens, B: B, T: T, train: false, hooks: nil)
        let alpha = s.get("alpha", B * k * T * T), qk = s.get("qk", N * 2 * k * d)
        weights(hidden: st.hidden, B: B, T: T, alpha: alpha, qk: qk)
        let S = s.get("senses", N * k * C)
        func mix() -> Tensor {
            let o = Tensor([N, C])
            for b in 0..<B {
                for l in 0..<k {
                    Blas.gemm(M: T, N: C, K: T, A: alpha + (b * k + l) * T * T, lda: T, B: S + b * T * k * C + l * C, ldb: k * C,
                              beta: 1, C: o.data + b * T * C, ldc: C)
                }
            }
            return o
        }
        let wasEnabled = senseDeltas.enabled
        senseDeltas.enabled = false
        senseForward(tokens, out: S, train: false)
        let original = mix()
        senseDeltas.enabled = wasEnabled
        senseDeltas.add(into: S, tokens: tokens, senses: k, C: C)
        return (original, mix())
    }

    /// qk (N, 2·k·d) = weight network(H); α (B, k, T, T) causal softmax of the scores.
    func weights(hidden: UnsafePointer<Float>, B: Int, T: Int, alpha: UnsafeMutablePointer<Float>, qk: UnsafeMutablePointer<Float>) {
        let W = 2 * k * d
        weightNet.forward(qk, hidden, N: B * T)
        let scale = 1 / Float(d).squareRoot()
        for b in 0..<B {
            for l in 0..<k {
                let q = qk + b * T * W + l * d, kk = qk + b * T * W + k * d + l * d   // rows stride W
                let P = alpha + (b * k + l) * T * T
                Blas.gemm(transB: true, M: T, N: T, K: d, alpha: scale, A: q, lda: W, B: kk, ldb: W, C: P, ldc: T)
                ce_causal_softmax(P, Int32(T))
            }
        }
    }

    /// The sense network on token embeddings (no positions): out (N, k·C). With `train` the
    /// intermediate states are kept for senseBackward.
    func senseForward(_ tokens: [Int32], out: UnsafeMutablePointer<Float>, train: Bool) {
        let N = tokens.count, s = scratch
        let e = s.get("sn.e", N * C), u = s.get("sn.u", N * C), r2 = s.get("sn.r2", N * C), v = s.get("sn.v", N * C)
        let a1 = s.get("sn.a1", N * F), g1 = s.get("sn.g1", N * F), r3 = s.get("sn.r3", N * C), w = s.get("sn.w", N * C)
        let a2 = s.get("sn.a2", N * F), g2 = s.get("sn.g2", N * F)
        let m = s.get("sn.mean", 3 * N), r = s.get("sn.rstd", 3 * N)
        let eps = Float(gpt2.spec.normEps)
        for n in 0..<N { (e + n * C).update(from: embed.value.data + Int(tokens[n]) * C, count: C) }
        ce_layernorm_forward(u, m, r, e, ln.0.value.data, ln.1.value.data, Int64(N), Int32(C), eps)
        r2.update(from: u, count: N * C); ce_add(r2, e, Int64(N * C))                         // r2 = ln(e) + e
        ce_layernorm_forward(v, m + N, r + N, r2, ln1.0.value.data, ln1.1.value.data, Int64(N), Int32(C), eps)
        fc.forward(a1, v, N: N); ce_gelu_forward(g1, a1, Int64(N * F), 1)
        r3.update(from: r2, count: N * C); proj.forward(r3, g1, N: N, accumulate: true)         // r3 = mlp(v) + r2
        ce_layernorm_forward(w, m + 2 * N, r + 2 * N, r3, ln2.0.value.data, ln2.1.value.data, Int64(N), Int32(C), eps)
        finalFc.forward(a2, w, N: N); ce_gelu_forward(g2, a2, Int64(N * F), 1)
        finalProj.forward(out, g2, N: N)
        senseDeltas.add(into: out, tokens: tokens, senses: k, C: C)
    }

    /// d(senses) (N, k·C) into the sense network's parameters, the deltas and the embedding.
    func senseBackward(_ tokens: [Int32], dOut: UnsafePointer<Float>) {
        let N = tokens.count, s = scratch
        senseDeltas.backward(dOut, tokens: tokens, senses: k, C: C)
        guard senseNetTrains else { return }
        let e = s.get("sn.e", N * C), u = s.get("sn.u", N * C), r2 = s.get("sn.r2", N * C), v = s.get("sn.v", N * C)
        let a1 = s.get("sn.a1", N * F), g1 = s.get("sn.g1", N * F), r3 = s.get("sn.r3", N * C), w = s.get("sn.w", N * C)
        let a2 = s.get("sn.a2", N * F), g2 = s.get("sn.g2", N * F)
        let m = s.get("sn.mean", 3 * N), r = s.get("sn.rstd", 3 * N)
        _ = u
        let dg = s.zeroed("sn.dg", N * F), da = s.get("sn.da", N * F)
        let dw = s.zeroed("sn.dw", N * C), dr3 = s.zeroed("sn.dr3", N * C), dv = s.zeroed("sn.dv", N * C)
        let de = s.zeroed("sn.de", N * C)
        finalProj.backward(dx: dg, dout: dOut, x: g2, N: N)
        ce_gelu_backward(da, dg, a2, Int64(N * F), 1)
        finalFc.backward(dx: dw, dout: da, x: w, N: N)
        ce_layernorm_backward(dr3, ln2.0.activeGrad, ln2.1.activeGrad, dw, r3, ln2.0.value.data, m + 2 * N, r + 2 * N, Int64(N), Int32(C))
        // r3 = proj(gelu(fc(v))) + r2: dr2 = dr3 + (through the MLP and ln_1)
        let dg1 = s.zeroed("sn.dg1", N * F)
        proj.backward(dx: dg1, dout: dr3, x: g1, N: N)
        ce_gelu_backward(da, dg1, a1, Int64(N * F), 1)
        fc.backward(dx: dv, dout: da, x: v, N: N)
        let dr2 = dr3                                                                   // reuse: dr2 = dr3 + ln_1 backward
        ce_layernorm_backward(dr2, ln1.0.activeGrad, ln1.1.activeGrad, dv, r2, ln1.0.value.data, m + N, r + N, Int64(N), Int32(C))
        // r2 = ln(e) + e
        de.update(from: dr2, count: N * C)
        ce_layernorm_backward(de, ln.0.activeGrad, ln.1.activeGrad, dr2, e, ln.0.value.data, m, r, Int64(N), Int32(C))
        if let dE = embed.activeGrad { for n in 0..<N { ce_add(dE + Int(tokens[n]) * C, de + n * C, Int64(C)) } }
    }

    public func run(tokens: [Int32], B: Int, T: Int, head: HeadObjective, train: Bool, hooks: RunHooks?) throws {
        try checkBatch(tokens, B: B, T: T)
        let N = B * T, W = 2 * k * d, s = scratch
        let st = try gpt2.forward(tokens: tokens, B: B, T: T, train: train && weightsTrain, hooks: nil)
        let H = s.get("H", N * C)
        H.update(from: st.hidden, count: N * C)
        let alpha = s.get("alpha", B * k * T * T), qk = s.get("qk", N * W)
        weights(hidden: H, B: B, T: T, alpha: alpha, qk: qk)
        let S = s.get("senses", N * k * C)                                     // (N, k·C): row b·T+j, sense ℓ at ℓ·C
        senseForward(tokens, out: S, train: train)
        // o (N, C) = Σ_ℓ α[ℓ] S[ℓ]
        let o = s.zeroed("o", N * C)
        for b in 0..<B {
            for l in 0..<k {
                Blas.gemm(M: T, N: C, K: T, A: alpha + (b * k + l) * T * T, lda: T, B: S + b * T * k * C + l * C, ldb: k * C,
                          beta: 1, C: o + b * T * C, ldc: C)
            }
        }
        hooks?.saveFinal(o, N: N, C: C)
        let dO = train ? s.get("dO", N * C) : nil
        OutputHead.run(hidden: o, N: N, C: C, weight: embed, head: head, dHidden: dO, scratch: s)
        guard train, let dO else { return }
        // dS[ℓ] = α[ℓ]ᵀ dO ; dα[ℓ] = dO S[ℓ]ᵀ → d(scores) → dq, dk
        let dS = s.zeroed("dS", N * k * C), dqk = s.zeroed("dqk", N * W), dP = s.get("dP", T * T)
        let scale = 1 / Float(d).squareRoot()
        for b in 0..<B {
            for l in 0..<k {
                let P = alpha + (b * k + l) * T * T
                Blas.gemm(transA: true, M: T, N: C, K: T, A: P, lda: T, B: dO + b * T * C, ldb: C, beta: 1, C: dS + b * T * k * C + l * C, ldc: k * C)
                guard weightsTrain else { continue }
                Blas.gemm(transB: true, M: T, N: T, K: C, A: dO + b * T * C, lda: C, B: S + b * T * k * C + l * C, ldb: k * C, C: dP, ldc: T)
                ce_causal_softmax_backward(dP, P, Int32(T))
                let q = qk + b * T * W + l * d, kk = qk + b * T * W + k * d + l * d
                Blas.gemm(M: T, N: d, K: T, alpha: scale, A: dP, lda: T, B: kk, ldb: W, beta: 1, C: dqk + b * T * W + l * d, ldc: W)
                Blas.gemm(transA: true, M: T, N: d, K: T, alpha: scale, A: dP, lda: T, B: q, ldb: W, beta: 1, C: dqk + b * T * W + k * d + l * d, ldc: W)
            }
        }
        senseBackward(tokens, dOut: dS)
        if weightsTrain {
            let dH = s.zeroed("dH", N * C)
            weightNet.backward(dx: dH, dout: dqk, x: H, N: N)
            gpt2.backward(st, dHidden: dH)
        }
    }
}

/// Trainable deltas on chosen (token, sense) vectors: senses[token][ℓ] += delta[i]. The
/// deltas start at zero; everything else in the model can stay frozen.
public final class SenseDeltas {
    public private(set) var index: [Int: Int] = [:]     // token·65536 + sense → row
    public private(set) var pairs: [(token: Int32, sense: Int)] = []
    public private(set) var delta: Parameter?
    public var enabled = true

    /// Chooses the pairs to edit; the delta tensor (pairs, C) is zero and trainable.
    public func select(_ chosen: [(token: Int32, sense: Int)], C: Int) {
        pairs = chosen
        index = [:]
        for (i, p) in chosen.enumerated() { index[Int(p.token) * 65536 + p.sense] = i }
        delta = chosen.isEmpty ? nil : Parameter("backpack.sense_deltas", Tensor([chosen.count, C]))
    }

    func add(into S: UnsafeMutablePointer<Float>, tokens: [Int32], senses k: Int, C: Int) {
        guard enabled, let delta, !index.isEmpty else { return }
        for (n, t) in tokens.enumerated() {
            for l in 0..<k { if let i = index[Int(t) * 65536 + l] { ce_add(S + (n * k + l) * C, delta.value.data + i * C, Int64(C)) } }
        }
    }

    func backward(_ dS: UnsafePointer<Float>, tokens: [Int32], senses k: Int, C: Int) {
        guard enabled, let delta, let g = delta.activeGrad else { return }
        for (n, t) in tokens.enumerated() {
            for l in 0..<k { if let i = index[Int(t) * 65536 + l] { ce_add(g + i * C, dS + (n * k + l) * C, Int64(C)) } }
        }
    }
}
