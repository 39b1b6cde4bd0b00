import Foundation
import Support

/// The inference-time ensemble of the paper's §7 (the authors' `improve_llama_experiment.py`): a
/// large model's logits plus β × (log p of the edited Backpack − log p of the original Backpack),
/// over a shared vocabulary. p ∝ p_large · (p_edited / p_original)^β. Both Backpack passes share
/// one α.
public final class EnsembleLM: CausalLM {
    public let large: CausalLM
    public let backpack: BackpackLM
    public var beta: Float

    public init(large: CausalLM, backpack: BackpackLM, beta: Float) throws {
        guard backpack.vocabSize <= large.vocabSize else {
            throw CanonEditError(
                "the Backpack's vocabulary (\(backpack.vocabSize)) is larger than the large model's "
                    + "(\(large.vocabSize))"
            )
        }
        self.large = large
        self.backpack = backpack
        self.beta = beta
    }

    public var architecture: String { "ensemble(\(large.architecture)+backpack)" }
    /// Ids the Backpack lacks get no probability, as the authors truncate GPT-J to GPT-2's vocabulary.
    public var vocabSize: Int { large.vocabSize }
    public var contextLength: Int { min(large.contextLength, backpack.contextLength) }
    public var layerCount: Int { large.layerCount }
    public var parameters: [Parameter] { large.parameters }
    public var linears: [Linear] { large.linears }
    public var frozenPrefixLayers: Int { 0 }

    public func runHead(hidden: Tensor, head: HeadObjective) throws {
        throw CanonEditError("the ensemble has no single output layer")
    }

    public func run(tokens: [Int32], B: Int, T: Int, head: HeadObjective, train: Bool, hooks: RunHooks?) throws {
        guard !train else { throw CanonEditError("the ensemble is for inference; edit the Backpack instead") }
        try checkBatch(tokens, B: B, T: T)
        if beta == 0 {
            try large.run(
                tokens: tokens, B: B, T: T, head: Truncated(inner: head, keep: backpack.vocabSize), train: false,
                hooks: nil);
            return
        }
        let (o0, o1) = try backpack.hiddenWithAndWithoutDeltas(tokens: tokens, B: B, T: T)
        let mix = EnsembleHead(inner: head, original: o0, edited: o1, embed: backpack.embed, beta: beta, C: backpack.C)
        try large.run(tokens: tokens, B: B, T: T, head: mix, train: false, hooks: nil)
    }
}

/// Adds β (log_softmax(o1 Eᵀ) − log_softmax(o0 Eᵀ)) to the large model's logits for each
/// chunk of rows, then hands them to the inner objective.
final class EnsembleHead: HeadObjective {
    let inner: HeadObjective, original: Tensor, edited: Tensor, embed: Parameter, beta: Float, C: Int
    init(inner: HeadObjective, original: Tensor, edited: Tensor, embed: Parameter, beta: Float, C: Int) {
        self.inner = inner; self.original = original; self.edited = edited; self.embed = embed; self.beta = beta;
        self.C = C
    }
    var rows: [Int] { inner.rows }

    func consume(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool) {
        let Vb = embed.value.shape[0], n = k.count
        let h0 = Tensor([n, C]), h1 = Tensor([n, C])
        for (i, r) in rows[k].enumerated() {
            (h0.data + i * C).update(from: original.data + r * C, count: C)
            (h1.data + i * C).update(from: edited.data + r * C, count: C)
        }
        let l0 = Tensor([n, Vb]), l1 = Tensor([n, Vb])
        Blas.gemm(transB: true, M: n, N: Vb, K: C, A: h0.data, lda: C, B: embed.value.data, ldb: C, C: l0.data, ldc: Vb)
        Blas.gemm(transB: true, M: n, N: Vb, K: C, A: h1.data, lda: C, B: embed.value.data, ldb: C, C: l1.data, ldc: Vb)
        VocabularySoftmax.logSoftmax(l0.data, R: n, V: Vb)
        VocabularySoftmax.logSoftmax(l1.data, R: n, V: Vb)
        for i in 0..<n {
            let row = logits + i * V
            for v in 0..<Vb { row[v] += beta * (l1.data[i * Vb + v] - l0.data[i * Vb + v]) }
            for v in Vb..<V { row[v] = -.infinity }
        }
        inner.consume(k, logits: logits, V: V, wantGrad: wantGrad)
    }
}

/// Passes logits through with ids at or past `keep` given no probability.
final class Truncated: HeadObjective {
    let inner: HeadObjective, keep: Int
    init(inner: HeadObjective, keep: Int) { self.inner = inner; self.keep = keep }
    var rows: [Int] { inner.rows }
    func consume(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool) {
        if keep < V { for i in 0..<k.count { for v in keep..<V { logits[i * V + v] = -.infinity } } }
        inner.consume(k, logits: logits, V: V, wantGrad: wantGrad)
    }
}
