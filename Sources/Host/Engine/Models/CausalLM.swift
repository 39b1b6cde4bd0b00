import Foundation
import Support

/// A causal language model the host can run: forward over a (B, T) batch of token ids,
/// a head that turns the final hidden states into logits row by row, and (when training)
/// the backward pass that accumulates into each trainable parameter's `grad`.
public protocol CausalLM: AnyObject {
    var architecture: String { get }
    var vocabSize: Int { get }
    var contextLength: Int { get }
    var layerCount: Int { get }
    /// Every parameter, named as Hugging Face names them.
    var parameters: [Parameter] { get }
    /// Every linear layer, named by module path (`model.layers.12.mlp.down_proj`), where
    /// adapters can be attached.
    var linears: [Linear] { get }
    /// Runs `tokens` (B*T ids, row b*T+t) through the model. The head is given the logits of
    /// the rows it asks for; with `train` its gradients are propagated to every parameter
    /// whose `requiresGrad` is set.
    func run(tokens: [Int32], B: Int, T: Int, head: HeadObjective, train: Bool, hooks: RunHooks?) throws
    /// How many bottom blocks (and the embedding) nothing trains: their outputs cannot change
    /// during an edit, so a residual state saved at this layer stays valid.
    var frozenPrefixLayers: Int { get }
    /// The output layer alone on final hidden states (N, C), as `run` would apply it.
    func runHead(hidden: Tensor, head: HeadObjective) throws
}

/// States saved from one run and fed to a later run of the same tokens.
public final class RunHooks {
    /// Start at `resume.layer` with its residual state instead of at the embedding.
    public var resume: ResidualState?
    /// Save the residual stream entering this layer into `saved`.
    public var saveAt: Int?
    public private(set) var saved: ResidualState?
    /// Save the final, normalised hidden states (N, C) into `finalHidden`.
    public var saveFinalHidden = false
    public private(set) var finalHidden: Tensor?
    /// Each row's length and query position, for block-output hooks (unprompted rows if nil).
    public var layout: RowLayout?

    public init(
        resume: ResidualState? = nil, saveAt: Int? = nil, saveFinalHidden: Bool = false, layout: RowLayout? = nil
    ) {
        self.resume = resume
        self.saveAt = saveAt
        self.saveFinalHidden = saveFinalHidden
        self.layout = layout
    }

    func save(layer: Int, x: UnsafePointer<Float>, N: Int, C: Int) {
        guard saveAt == layer else { return }
        let t = Tensor([N, C])
        t.data.update(from: x, count: N * C)
        saved = ResidualState(layer: layer, x: t)
    }

    func saveFinal(_ h: UnsafePointer<Float>, N: Int, C: Int) {
        guard saveFinalHidden else { return }
        let t = Tensor([N, C])
        t.data.update(from: h, count: N * C)
        finalHidden = t
    }
}

/// The residual stream (N, C) entering block `layer`.
public final class ResidualState {
    public let layer: Int
    public let x: Tensor
    public init(layer: Int, x: Tensor) { self.layer = layer; self.x = x }
}

extension CausalLM {
    public func run(tokens: [Int32], B: Int, T: Int, head: HeadObjective, train: Bool) throws {
        try run(tokens: tokens, B: B, T: T, head: head, train: train, hooks: nil)
    }

    public func parameter(_ name: String) -> Parameter? { parameters.first { $0.name == name } }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Freezes everything, or trains everything.
    public func setTrainable(_ on: Bool) { for p in parameters { p.requiresGrad = on } }
    public func zeroGrads() { for p in parameters { p.grad?.zero() } }

    func checkBatch(_ tokens: [Int32], B: Int, T: Int) throws {
        guard B >= 1, T >= 1, tokens.count == B * T else {
            throw CanonEditError("batch of \(tokens.count) ids does not match B=\(B) × T=\(T)")
        }
        guard T <= contextLength else {
            throw CanonEditError("sequence of \(T) tokens is longer than the model's context of \(contextLength)")
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= vocabSize }) {
            throw CanonEditError("token id \(bad) is outside the vocabulary of \(vocabSize)")
        }
    }
}

/// What the head computes from logits. The model gathers the final hidden states of `rows`
/// (indices into the B*T batch, ascending) and hands their logits over in chunks.
public protocol HeadObjective: AnyObject {
    var rows: [Int] { get }
    /// An objective whose gradient weights depend on the loss of every row (|m1 − m2| of a
    /// pair) asks for a first pass: the head computes all logits, calls `observe` on each
    /// chunk, then recomputes them for `consume`.
    var needsFirstPass: Bool { get }
    func observe(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int)
    /// `logits` is (k.count, V) for rows[k]. With `wantGrad` the objective must overwrite it
    /// with d(loss)/d(logits); the model backpropagates from there.
    func consume(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool)
}

extension HeadObjective {
    public var needsFirstPass: Bool { false }
    public func observe(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int) {}
}
