import Engine
import Foundation
import Kernels
import Support

/// What an editing method works on: the model, the canonical examples and the host's services.
/// A method (plugin) chooses what to train here and updates it; the session remembers the
/// original values so the unedited model can always be run (KL reference, reverting).
public final class EditSession {
    public let model: CausalLM
    public let tokenizer: Tokenizer
    /// The canonical examples the method sees (in sequential editing, the current step's).
    public private(set) var examples: [TokenizedExample]
    /// Counts changes of `examples`, so that views handed out earlier are not reused.
    public private(set) var examplesVersion = 0
    public let lossType: LossType
    public var rng: SeededRandom
    /// Every tensor being trained, in the order it was chosen.
    public internal(set) var trained: [Parameter] = []
    var snapshots: [ObjectIdentifier: Tensor] = [:]
    private var slots: [AdapterSlot] = []
    public let adam = AdamService()
    /// Resolves data paths a method names (a config's relative paths).
    public var resolvePath: (String) -> String = { $0 }
    /// The model's file or folder as stored, when it has one: edits applied to the session are
    /// checked against its digest (`EditArtifact.checkWeights`).
    public var modelPath: String?

    public init(
        model: CausalLM, tokenizer: Tokenizer, examples: [TokenizedExample], lossType: LossType,
        seed: UInt64
    ) {
        self.model = model
        self.tokenizer = tokenizer
        self.examples = examples
        self.lossType = lossType
        rng = SeededRandom(seed: seed)
        model.setTrainable(false)
    }

    /// Records tokenized here (callers that hold no tokenized set).
    public convenience init(
        model: CausalLM, tokenizer: Tokenizer, records: [Example], lossType: LossType,
        seed: UInt64
    ) {
        self.init(
            model: model, tokenizer: tokenizer, examples: records.tokenized(with: tokenizer),
            lossType: lossType, seed: seed)
    }

    /// The values a trained model tensor had when it was selected (nil for adapters).
    public func original(of p: Parameter) -> Tensor? { snapshots[ObjectIdentifier(p)] }

    /// Where the trainer is, for methods that schedule by epoch (0-based) and epoch count.
    public var epoch = 0, epochs = 0

    /// Trains a whole model tensor; its original values are kept.
    public func train(_ p: Parameter) {
        guard snapshots[ObjectIdentifier(p)] == nil else { return }
        snapshots[ObjectIdentifier(p)] = p.value.clone()
        p.requiresGrad = true
        p.isEdited = true
        trained.append(p)
    }

    /// Rows of row-restricted tensors and originals of entry-selected ones (SelectionMasks.swift).
    var rowMasks: [ObjectIdentifier: [Int]] = [:]
    var entryOriginals: [ObjectIdentifier: [Float]] = [:]

    /// Attaches a trainable low-rank adapter to a linear layer (A and B zero; the method
    /// initialises them). scale multiplies the adapter's output.
    public func attachLowRank(module: String, rank: Int, scale: Float) throws -> LowRankAdapter {
        guard let lin = model.linears.first(where: { $0.name == module }) else {
            throw CanonEditError("no linear layer named \(module)")
        }
        guard lin.slot.adapter == nil else { throw CanonEditError("\(module) already has an adapter") }
        guard rank >= 1, rank <= 1 << 16 else {
            throw CanonEditError("adapter rank \(rank) for \(module) must be 1…65536")
        }
        let a = LowRankAdapter(
            name: module, rank: rank, inFeatures: lin.inFeatures, outFeatures: lin.outFeatures, scale: scale)
        lin.slot.adapter = a
        slots.append(lin.slot)
        for p in [a.A, a.B] { p.requiresGrad = true; trained.append(p) }
        return a
    }

    /// A tensor of the method's own (a hook's values), zero, trained like an adapter: its
    /// gradient, Adam state and checkpoints are the host's. Names are unique in the session.
    public func newParameter(_ name: String, shape: [Int]) throws -> Parameter {
        guard !name.isEmpty, model.parameter(name) == nil, !trained.contains(where: { $0.name == name }) else {
            throw CanonEditError("a tensor named '\(name)' already exists")
        }
        // The element count is multiplied with overflow checks: a crafted shape must not trap here.
        let count = shape.reduce(Optional(1)) { n, d in
            guard let n, d >= 1 else { return nil }
            let (m, overflow) = n.multipliedReportingOverflow(by: d)
            return overflow || m > 1 << 31 ? nil : m
        }
        guard (1...4).contains(shape.count), count != nil else {
            throw CanonEditError(
                "tensor \(name): shape \(shape) must have 1 to 4 positive dimensions and at most 2^31 values")
        }
        let p = Parameter(name, Tensor(shape))
        p.requiresGrad = true
        methodTensors.append(p)
        trained.append(p)
        return p
    }

    /// Which edit of a sequential run the method prepares (0 otherwise). From step 1 on, the
    /// method's tensor names and state keys get a "step<k>." prefix, so every step keeps its own.
    public var methodStep = 0

    /// A name or state key of the method in the current step.
    public func stepName(_ name: String) -> String { methodStep == 0 ? name : "step\(methodStep).\(name)" }

    /// The examples the next `prepare` and training see.
    public func useExamples(_ e: [TokenizedExample]) {
        examples = e
        examplesVersion += 1
    }

    /// Ends an edit of a sequential run: every low-rank adapter moved into the weight it adapts
    /// (its original kept, as for a trained tensor; its Adam state gone) and a Backpack's sense
    /// deltas kept as they are, so the next edit can attach and choose its own.
    public func endEdit() {
        (model as? BackpackLM)?.senseDeltas.freeze()
        for lin in model.linears {
            guard let a = lin.slot.adapter else { continue }
            train(lin.weight)
            lin.weight.requiresGrad = false
            lin.weight.dropGrad()
            a.fold(into: lin.weight.value)
            lin.slot.adapter = nil
            trained.removeAll { $0 === a.A || $0 === a.B }
            for p in [a.A, a.B] { adam.forget(p.name) }
        }
        slots.removeAll { $0.adapter == nil }
    }

    /// Tensors the method made for itself (newParameter), in the order made.
    public private(set) var methodTensors: [Parameter] = []

    /// Adds a hook on a block's output to the edited model.
    public func addHook(_ hook: BlockOutputHook) throws {
        guard let decoder = model as? DecoderLM else {
            throw CanonEditError("hooks on block outputs need a decoder model, not \(model.architecture)")
        }
        try decoder.addHook(hook)
    }

    public var hasHooks: Bool { !((model as? DecoderLM)?.blockHooks.isEmpty ?? true) }

    /// Opaque state a method saves (its keys, masks, codebooks), by key: written to checkpoints
    /// and edit files, and handed back before `prepare` on resume and when an edit is applied.
    public var methodState: [String: Data] = [:]

    /// The method a hook-based edit needs to run, recorded in its edit files.
    public var hookMethod: MethodRecord?

    /// Makes the method an edit file names (set by the layer that loads plugins).
    public var loadMethod: ((MethodRecord) throws -> EditMethod)?

    /// Which model tensors an edit of the method an edit file names may change directly, as
    /// that method's plugin describes itself (set by the layer that loads plugins). Without it,
    /// an edit's model tensors need trust.
    public lazy var methodChanges: ((EditArtifact.Info) throws -> (String) -> Bool)? =
        EditSession.defaultMethodChanges?(model)

    /// What new sessions use for `methodChanges`, given their model: the CLI sets it to ask the
    /// plugins found in the default folders.
    nonisolated(unsafe) public static var defaultMethodChanges:
        ((CausalLM) -> (EditArtifact.Info) throws -> (String) -> Bool)?

    /// Runs `body` on the unedited model: adapters and hooks off, trained tensors swapped with
    /// their original values (O(1) each), then everything put back.
    public func withOriginalModel<T>(_ body: () throws -> T) rethrows -> T {
        for s in slots { s.enabled = false }
        let decoder = model as? DecoderLM, hooksWere = decoder?.hooksEnabled ?? false
        decoder?.hooksEnabled = false
        let swapped = trained.compactMap { p in snapshots[ObjectIdentifier(p)].map { (p, $0) } }
        for (p, o) in swapped { p.value.swapStorage(with: o) }
        swapEntries()
        defer {
            swapEntries()
            for (p, o) in swapped { p.value.swapStorage(with: o) }
            for s in slots { s.enabled = true }
            decoder?.hooksEnabled = hooksWere
        }
        return try body()
    }

    /// Removes the edit: original values back, adapters detached, nothing trainable.
    public func revert() {
        for p in trained { if let o = snapshots[ObjectIdentifier(p)] { p.value.copy(from: o) } }
        for p in trained {
            guard let e = p.entries, let o = entryOriginals[ObjectIdentifier(p)] else { continue }
            for (k, i) in e.enumerated() { p.value.data[i] = o[k] }
            p.entries = nil
        }
        entryOriginals.removeAll()
        for s in slots { s.adapter = nil }
        slots.removeAll()
        (model as? BackpackLM)?.senseDeltas.select([], C: 0)
        (model as? DecoderLM)?.residualDelta = nil
        (model as? DecoderLM)?.removeHooks()
        methodTensors.removeAll()
        methodState.removeAll()
        hookMethod = nil
        model.setTrainable(false)
        for p in trained { p.requiresGrad = false; p.isEdited = false; p.dropGrad() }
        trained.removeAll()
        snapshots.removeAll()
        rowMasks.removeAll()
    }

    /// One update by `method`: gradients outside row-restricted tensors' rows are zeroed first.
    public func update(with method: EditMethod, learningRate: Double, step: Int) throws {
        applyRowMasks()
        try method.update(self, learningRate: learningRate, step: step)
    }

    /// A closed-form edit by `method`. Afterwards nothing stays trainable and the helper vector
    /// a method may have trained on the way (MEMIT's residual δ) is gone; the changed tensors
    /// keep their originals, so revert still restores the model.
    public func applyClosedForm(_ method: EditMethod) throws {
        try method.apply(self)
        (model as? DecoderLM)?.residualDelta = nil
        model.setTrainable(false)
        for p in trained { p.requiresGrad = false; p.dropGrad() }
    }

    public func zeroGrads() { for p in trained { p.grad?.zero() } }

    /// No NaN or infinity in `t` (read by every thread: checked after every step, memory-bound).
    static func allFinite(_ t: Tensor) -> Bool {
        var parts = [Int32](repeating: 1, count: Parallel.threads)
        let data = t.data
        parts.withUnsafeMutableBufferPointer { ok in
            Parallel.split(t.count, align: 64, cost: 1) { part, r in
                ok[part] = ce_all_finite(data + r.lowerBound, Int64(r.count))
            }
        }
        return !parts.contains(0)
    }

    /// The first trained tensor holding a NaN or infinity, if any (`grads` checks gradients).
    /// Tensors in `known` (what the Adam steps found) are not read again.
    public func firstNonFinite(grads: Bool = false, known: [String: AdamService.Finite] = [:]) -> String? {
        for p in trained {
            let finite: Bool
            if let k = known[p.name] {
                finite = grads ? k.gradient : k.value
            } else {
                guard let t = grads ? p.grad : p.value else { continue }
                finite = Self.allFinite(t)
            }
            if !finite { return p.name + (grads ? " (gradient)" : "") }
        }
        return nil
    }
}

/// The plugin a hook-based edit runs with: its id, its own version and its options as the
/// run set them (numbers written as Swift prints a Double, which reads back exactly).
public struct MethodRecord: Codable, Equatable {
    public var id: String
    public var version: String
    public var options: [String: String]

    public init(id: String, version: String, options: [String: String]) {
        self.id = id
        self.version = version
        self.options = options
    }
}
