import Foundation
import Kernels
import Support

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

/// The Backpack language model (Hewitt et al. 2023):
///   α = contextualization weights (B, k, T, T)             SenseWeightNetwork
///   S[ℓ] = senses of each token from its embedding alone   SenseNetwork (N, k·C)
///   o = Σ_ℓ α[ℓ] S[ℓ]; logits = o Eᵀ                       no final norm, no 1/k
/// stanfordnlp/backpack-gpt2 contextualizes with a GPT-2; a companion Backpack (Companion.swift)
/// with a base model's frozen bottom blocks. Sense deltas (`senseDeltas`) add a trainable
/// vector to chosen (token, sense) pairs.
public final class BackpackLM: CausalLM {
    let weightNetwork: SenseWeightNetwork
    let senseNetwork: SenseNetwork
    let embed: Parameter  // (V, C): the output layer (tied)
    let k: Int
    public let C: Int
    public let architecture: String
    public let parameters: [Parameter]
    public let senseDeltas = SenseDeltas()
    let scratch: Scratch
    /// A companion's base model: smoothed sense selection reads its predictions.
    public var base: DecoderLM? {
        if case .prefix(let m, _) = weightNetwork.encoder { return m }
        return nil
    }

    public var vocabSize: Int { embed.value.shape[0] }
    public var contextLength: Int { weightNetwork.decoder.contextLength }
    public var layerCount: Int {
        weightNetwork.frozenLayers > 0 ? weightNetwork.frozenLayers : weightNetwork.decoder.layerCount
    }
    public var linears: [Linear] { weightNetwork.linears + senseNetwork.linears }
    public var numSenses: Int { k }
    public var frozenPrefixLayers: Int { weightNetwork.frozenLayers }

    init(
        architecture: String, weights: SenseWeightNetwork, senses: SenseNetwork, embed: Parameter, scratch: Scratch,
        parameters: [Parameter]
    ) {
        self.architecture = architecture
        weightNetwork = weights
        senseNetwork = senses
        self.embed = embed
        k = weights.k
        C = embed.value.shape[1]
        self.scratch = scratch
        self.parameters = parameters
    }

    /// stanfordnlp/backpack-gpt2. `shape(name)` is the stored (PyTorch-order) shape of a
    /// tensor, `load(name, shape)` the tensor.
    public convenience init(
        config: BackpackConfig, source: String, shape: (String) -> [Int]?, load: (String, [Int]) throws -> Tensor
    ) throws {
        var g = try config.gpt2.spec(source: source)
        g.architecture = "backpack-gpt2"
        let gpt2 = try DecoderLM(
            spec: g, names: GPT2Config.names(prefix: "backpack.gpt2_model."), sourceConfig: config.gpt2, source: source,
            load: load)
        let (C, k) = (g.C, config.num_senses), F = (config.sense_intermediate_scale ?? 4) * g.C
        // The weight network's width per sense comes from its stored shape: (2·k·d, C).
        let wn = "backpack.sense_weight_net.c_attn"
        guard let rows = shape(wn + ".weight")?.first, rows % (2 * k) == 0 else {
            throw CanonEditError(
                "\(source): \(wn).weight is missing or its rows are not a multiple of 2 × \(k) senses")
        }
        func p(_ n: String, _ s: [Int]) throws -> Parameter { Parameter(n, try load(n, s)) }
        func norm(_ n: String) throws -> (Parameter, Parameter) { (try p(n + ".weight", [C]), try p(n + ".bias", [C])) }
        func lin(_ n: String, _ o: Int, _ i: Int) throws -> Linear {
            Linear(name: n, weight: try p(n + ".weight", [o, i]), bias: try p(n + ".bias", [o]))
        }
        let sn = "backpack.sense_network.", scratch = Scratch()
        let senses = GPT2SenseNetwork(
            embed: gpt2.embed, ln: try norm(sn + "ln"), ln1: try norm(sn + "block.ln_1"),
            ln2: try norm(sn + "block.ln_2"),
            fc: try lin(sn + "block.mlp.c_fc", F, C), proj: try lin(sn + "block.mlp.c_proj", C, F),
            finalFc: try lin(sn + "final_mlp.c_fc", F, C), finalProj: try lin(sn + "final_mlp.c_proj", k * C, F),
            eps: Float(g.normEps), scratch: scratch)
        let weights = SenseWeightNetwork(
            encoder: .full(gpt2), norm: nil, proj: try lin(wn, rows, C), senses: k, scratch: scratch)
        // Order as before the split: GPT-2, sense network, weight network (ModelIdentity reads the first).
        self.init(
            architecture: "backpack", weights: weights, senses: senses, embed: gpt2.embed, scratch: scratch,
            parameters: gpt2.parameters + senses.parameters + weights.ownParameters)
    }

    public func runHead(hidden: Tensor, head: HeadObjective) throws {
        OutputHead.run(
            hidden: hidden.data, N: hidden.rows, C: C, weight: embed, head: head, dHidden: nil, scratch: scratch)
    }

    /// α (B, k, T, T): the contextualization weights for a batch.
    public func contextualization(tokens: [Int32], B: Int, T: Int) throws -> Tensor {
        try checkBatch(tokens, B: B, T: T)
        let p = try weightNetwork.forward(tokens: tokens, B: B, T: T, train: false, hooks: nil)
        let alpha = Tensor([B, k, T, T])
        alpha.data.update(from: p, count: alpha.count)
        return alpha
    }

    /// out (V, k) += Σ_{i ∈ rows} Σ_{j: tokens[j] = v} α[ℓ, i, j] for one sequence: how much
    /// weight the rows' predictions give to sense ℓ of each word v.
    /// A sequence longer than the context is taken in consecutive windows of the context length.
    public func addSenseWeights(tokens: [Int32], rows: [Int], into out: UnsafeMutablePointer<Float>) throws {
        let T = tokens.count
        guard rows.allSatisfy({ $0 >= 0 && $0 < T }) else {
            throw CanonEditError("sense weight rows outside the sequence of \(T)")
        }
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

    /// out (V) += Σ_{i ∈ rows} p(v | tokens ≤ i): the expected count of each word among the
    /// rows' predictions, from the base model of a companion, otherwise from the Backpack.
    public func addPredictedProbabilities(tokens: [Int32], rows: [Int], into out: UnsafeMutablePointer<Float>) throws {
        guard rows.allSatisfy({ $0 >= 0 && $0 < tokens.count }) else {
            throw CanonEditError("predicted-probability rows outside the sequence of \(tokens.count)")
        }
        let model: CausalLM = base ?? self
        let T = min(tokens.count, model.contextLength)
        let sum = ProbabilitySum(rows: rows.filter { $0 < T }, V: vocabSize)
        try model.run(tokens: Array(tokens.prefix(T)), B: 1, T: T, head: sum, train: false)
        ce_add(out, sum.total, Int64(vocabSize))
    }

    /// Sense vectors (n, k, C) of the given token ids, deltas included.
    public func senses(of tokens: [Int32]) throws -> Tensor {
        let out = Tensor([tokens.count, k, C])
        senseNetwork.forward(tokens, out: out.data)
        senseDeltas.add(into: out.data, tokens: tokens, senses: k, C: C)
        return out
    }

    /// o (N, C) = Σ_ℓ α[ℓ] S[ℓ], batch by batch, added into `o`.
    func mix(
        alpha: UnsafePointer<Float>, senses S: UnsafePointer<Float>, B: Int, T: Int, into o: UnsafeMutablePointer<Float>
    ) {
        for b in 0..<B {
            for l in 0..<k {
                Blas.gemm(
                    M: T, N: C, K: T, A: alpha + (b * k + l) * T * T, lda: T, B: S + b * T * k * C + l * C, ldb: k * C,
                    beta: 1, C: o + b * T * C, ldc: C)
            }
        }
    }

    /// The output hidden states (N, C) without and with the sense deltas, from one pass of the
    /// contextualization network (α does not depend on the senses, so it is computed once).
    public func hiddenWithAndWithoutDeltas(tokens: [Int32], B: Int, T: Int) throws -> (original: Tensor, edited: Tensor)
    {
        try checkBatch(tokens, B: B, T: T)
        let N = B * T
        let alpha = try weightNetwork.forward(tokens: tokens, B: B, T: T, train: false, hooks: nil)
        let S = scratch.get("senses", N * k * C)
        senseNetwork.forward(tokens, out: S)
        let original = Tensor([N, C]), edited = Tensor([N, C])
        mix(alpha: alpha, senses: S, B: B, T: T, into: original.data)
        senseDeltas.add(into: S, tokens: tokens, senses: k, C: C)
        mix(alpha: alpha, senses: S, B: B, T: T, into: edited.data)
        return (original, edited)
    }

    public func run(tokens: [Int32], B: Int, T: Int, head: HeadObjective, train: Bool, hooks: RunHooks?) throws {
        try checkBatch(tokens, B: B, T: T)
        let N = B * T, s = scratch
        let weightsTrain = train && weightNetwork.trains
        let alpha = try weightNetwork.forward(tokens: tokens, B: B, T: T, train: weightsTrain, hooks: hooks)
        let S = s.get("senses", N * k * C)  // (N, k·C): row b·T+j, sense ℓ at ℓ·C
        senseNetwork.forward(tokens, out: S)
        senseDeltas.add(into: S, tokens: tokens, senses: k, C: C)
        let o = s.zeroed("o", N * C)  // (N, C)
        mix(alpha: alpha, senses: S, B: B, T: T, into: o)
        hooks?.saveFinal(o, N: N, C: C)
        let dO = train ? s.get("dO", N * C) : nil
        OutputHead.run(hidden: o, N: N, C: C, weight: embed, head: head, dHidden: dO, scratch: s)
        guard train, let dO else { return }
        // dS[ℓ] = α[ℓ]ᵀ dO ; dα[ℓ] = dO S[ℓ]ᵀ
        let dS = s.zeroed("dS", N * k * C)
        let dAlpha = weightsTrain ? s.get("dAlpha", B * k * T * T) : nil
        for b in 0..<B {
            for l in 0..<k {
                let P = alpha + (b * k + l) * T * T
                Blas.gemm(
                    transA: true, M: T, N: C, K: T, A: P, lda: T, B: dO + b * T * C, ldb: C, beta: 1,
                    C: dS + b * T * k * C + l * C, ldc: k * C)
                if let dAlpha {
                    Blas.gemm(
                        transB: true, M: T, N: T, K: C, A: dO + b * T * C, lda: C, B: S + b * T * k * C + l * C,
                        ldb: k * C,
                        C: dAlpha + (b * k + l) * T * T, ldc: T)
                }
            }
        }
        senseDeltas.backward(dS, tokens: tokens, senses: k, C: C)
        senseNetwork.backward(tokens, dOut: dS)
        if let dAlpha { try weightNetwork.backward(dAlpha: dAlpha, B: B, T: T) }
    }
}

/// Σ over the rows of softmax(logits): the expected count of each word.
final class ProbabilitySum: HeadObjective {
    let rows: [Int]
    let total: UnsafeMutablePointer<Float>
    let V: Int
    init(rows: [Int], V: Int) {
        self.rows = rows
        self.V = V
        total = .allocate(capacity: V)
        total.initialize(repeating: 0, count: V)
    }
    deinit { total.deallocate() }
    func consume(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool) {
        VocabularySoftmax.logSoftmax(logits, R: k.count, V: V)
        for i in 0..<k.count {
            let row = logits + i * V
            for v in 0..<min(V, self.V) { total[v] += expf(row[v]) }
        }
    }
}
