import Kernels

/// What an editing method works on: the model, the canonical examples and the host's services.
/// A method (plugin) chooses what to train here and updates it; the session remembers the
/// original values so the unedited model can always be run (KL reference, reverting).
public final class EditSession {
    public let model: CausalLM
    public let tokenizer: BPETokenizer
    public let examples: [Example]
    public let lossType: LossType
    public var rng: SeededRandom
    /// Every tensor being trained, in the order it was chosen.
    public private(set) var trained: [Parameter] = []
    private var snapshots: [ObjectIdentifier: Tensor] = [:]
    private var slots: [AdapterSlot] = []
    public let adam = AdamService()
    /// Resolves data paths a method names (a config's relative paths).
    public var resolvePath: (String) -> String = { $0 }

    public init(model: CausalLM, tokenizer: BPETokenizer, examples: [Example], lossType: LossType, seed: UInt64) {
        self.model = model
        self.tokenizer = tokenizer
        self.examples = examples
        self.lossType = lossType
        rng = SeededRandom(seed: seed)
        model.setTrainable(false)
    }

    /// Trains a whole model tensor; its original values are kept.
    public func train(_ p: Parameter) {
        guard snapshots[ObjectIdentifier(p)] == nil else { return }
        snapshots[ObjectIdentifier(p)] = p.value.clone()
        p.requiresGrad = true
        p.isEdited = true
        trained.append(p)
    }

    private var rowMasks: [ObjectIdentifier: [Int]] = [:]

    /// Trains only some rows (first dimension) of a tensor: the others' gradients are zeroed
    /// before every update, so they never move.
    public func train(_ p: Parameter, rows: [Int]) {
        train(p)
        rowMasks[ObjectIdentifier(p), default: []] += rows
    }

    /// Zeroes the gradient outside each row-restricted tensor's rows.
    public func applyRowMasks() {
        for p in trained {
            guard let rows = rowMasks[ObjectIdentifier(p)], let g = p.grad else { continue }
            let keep = Set(rows), width = p.value.count / p.value.shape[0]
            for r in 0..<p.value.shape[0] where !keep.contains(r) { (g.data + r * width).update(repeating: 0, count: width) }
        }
    }

    /// Attaches a trainable low-rank adapter to a linear layer (A and B zero; the method
    /// initialises them). scale multiplies the adapter's output.
    public func attachLowRank(module: String, rank: Int, scale: Float) throws -> LowRankAdapter {
        guard let lin = model.linears.first(where: { $0.name == module }) else {
            throw CanonEditError("no linear layer named \(module)")
        }
        guard lin.slot.adapter == nil else { throw CanonEditError("\(module) already has an adapter") }
        guard rank >= 1, rank <= 1 << 16 else { throw CanonEditError("adapter rank \(rank) for \(module) must be 1…65536") }
        let a = LowRankAdapter(name: module, rank: rank, inFeatures: lin.inFeatures, outFeatures: lin.outFeatures, scale: scale)
        lin.slot.adapter = a
        slots.append(lin.slot)
        for p in [a.A, a.B] { p.requiresGrad = true; trained.append(p) }
        return a
    }

    /// Runs `body` on the unedited model: adapters off, trained tensors swapped with their
    /// original values (O(1) each), then everything put back.
    public func withOriginalModel<T>(_ body: () throws -> T) rethrows -> T {
        for s in slots { s.enabled = false }
        let swapped = trained.compactMap { p in snapshots[ObjectIdentifier(p)].map { (p, $0) } }
        for (p, o) in swapped { p.value.swapStorage(with: o) }
        defer {
            for (p, o) in swapped { p.value.swapStorage(with: o) }
            for s in slots { s.enabled = true }
        }
        return try body()
    }

    /// Removes the edit: original values back, adapters detached, nothing trainable.
    public func revert() {
        for p in trained { if let o = snapshots[ObjectIdentifier(p)] { p.value.copy(from: o) } }
        for s in slots { s.adapter = nil }
        slots.removeAll()
        (model as? BackpackLM)?.senseDeltas.select([], C: 0)
        (model as? DecoderLM)?.residualDelta = nil
        model.setTrainable(false)
        for p in trained { p.requiresGrad = false; p.isEdited = false; p.dropGrad() }
        trained.removeAll()
        snapshots.removeAll()
        rowMasks.removeAll()
    }

    public func zeroGrads() { for p in trained { p.grad?.zero() } }

    /// The first trained tensor holding a NaN or infinity, if any (`grads` checks gradients).
    public func firstNonFinite(grads: Bool = false) -> String? {
        for p in trained {
            let t = grads ? p.grad : p.value
            if let t, ce_all_finite(t.data, Int64(t.count)) == 0 { return p.name + (grads ? " (gradient)" : "") }
        }
        return nil
    }
}

/// Adam state kept by the host for any tensor a method asks it to update (spec §3.1:
/// betas (0.9, 0.995), eps 1e-8, no weight decay by default).
public final class AdamService {
    public final class State {
        public let m: Tensor, v: Tensor
        public var t: Int64 = 0
        init(_ shape: [Int]) { m = Tensor(shape); v = Tensor(shape) }
    }
    public private(set) var states: [String: State] = [:]

    public func state(for p: Parameter) -> State {
        if let s = states[p.name] { return s }
        let s = State(p.value.shape)
        states[p.name] = s
        return s
    }

    public func step(_ p: Parameter, lr: Double, beta1: Double = 0.9, beta2: Double = 0.995, eps: Double = 1e-8, weightDecay: Double = 0) {
        guard let g = p.grad else { return }
        let s = state(for: p)
        s.t += 1
        ce_adam_step(p.value.data, g.data, s.m.data, s.v.data, Int64(p.value.count), Float(lr), Float(beta1), Float(beta2),
                     Float(eps), Float(weightDecay), s.t)
    }
}

/// An editing method as the training loop sees it. Plugins loaded from dynamic libraries are
/// adapted to this (PluginLoader); the loop never knows which method it runs.
public protocol EditMethod: AnyObject {
    var id: String { get }
    /// Chooses what to train (tensors, adapters) through the session.
    func prepare(_ session: EditSession) throws
    /// One update after the gradients of the trained tensors are in place.
    func update(_ session: EditSession, learningRate: Double, step: Int) throws
    /// Closed-form methods edit the model once, in `apply`, instead of being trained.
    var closedForm: Bool { get }
    func apply(_ session: EditSession) throws
}

extension EditMethod {
    public var closedForm: Bool { false }
    public func apply(_ session: EditSession) throws {}
}
