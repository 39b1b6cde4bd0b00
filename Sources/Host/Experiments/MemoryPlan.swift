import Engine
import Foundation
import PluginHost
import Setting
import Support

/// The memory a run will hold, item by item, computed before any weight is read: from the
/// model's outline (weights as they will be held, the decoder's shape), the config's data (the
/// largest batch × sequence of training, KL and evaluation passes) and the method's options.
/// Items follow the buffers the engine keeps: scratch buffers keep their largest size, so a
/// pass's buffers count once at the largest shape any pass gives them.
public struct MemoryPlan {
    public struct Item {
        public let what: String
        public let bytes: Int
    }
    public private(set) var items: [Item] = []
    public let recompute: Bool
    /// What the plan could not count.
    public private(set) var notes: [String] = []
    /// The memory the plan was checked against (nil: unknown), and where that figure came from.
    public fileprivate(set) var available: Int? = nil
    fileprivate var limitSource = "available"
    public var total: Int { items.reduce(0) { $0 + $1.bytes } }

    /// The process before any model: code, Swift and OpenBLAS runtime (`canonedit logits` on a
    /// tiny model peaks at 29 MB).
    static let runtimeBytes = 32 << 20

    /// Shapes of the passes a run makes, from its tokenized data.
    public struct Passes {
        /// Training batches (task loss), KL documents, evaluation batches, as (B, T).
        var train: [(B: Int, T: Int)], kl: [Int], eval: [(B: Int, T: Int)]
        /// Tokens of every evaluation set's batches (B·T each), per set, for prefix caches.
        var evalSetTokens: [[Int]]
        var longestExample: Int
        /// Canonical examples, and whether they are edited one step after another.
        var examples: Int, sequential: Bool

        public init(data: ExperimentData.Tokenized, config c: ExperimentConfig, contextLength: Int) {
            let pair = c.training.loss_type.isPair
            train = stride(from: 0, to: data.train.count, by: c.batchSize).map { i in
                let seqs = data.train[i..<min(i + c.batchSize, data.train.count)].flatMap { $0.sequences(pair: pair) }
                return (seqs.count, seqs.map(\.ids.count).max() ?? 0)
            }
            kl = (c.training.regularization_weight ?? 0) > 0 ? data.klDocs.map(\.count) : []
            let sets = data.evaluator.scoredLengths.map { $0.map { min($0, contextLength) } }
            var eval: [(B: Int, T: Int)] = [], setTokens: [[Int]] = []
            for lengths in sets {
                let batches = SequenceScorer.batches(lengths).map { ($0.count, lengths[$0.last!]) }
                eval += batches
                setTokens.append(batches.map { $0.0 * $0.1 })
            }
            (self.eval, evalSetTokens) = (eval, setTokens)
            (examples, sequential) = (data.train.count, c.sequential != nil)
            longestExample =
                data.train.map { $0.prefix.count + max($0.suffix.count, $0.suffix2?.count ?? 0) }.max() ?? 0
        }
    }

    init(
        outline o: ModelOutline, recipe r: DecoderRecipe, method m: MethodFootprint, passes p: Passes,
        recompute: Bool
    ) {
        self.recompute = recompute
        let s = r.spec
        func add(_ what: String, _ bytes: Int) { if bytes > 0 { items.append(Item(what: what, bytes: bytes)) } }
        add("weights as held (stored matrices mapped from the file, the rest fp32)", o.weightBytes)
        add("trained tensors: fp32 values, originals, gradients, Adam moments", m.trainedElements * 20)
        add("adapters: values, gradients, Adam moments", m.adapterElements * 16)
        for own in m.own { add(own.what, own.bytes) }
        if let u = m.unknown { notes.append(u) }

        // Training passes: task-loss batches, KL documents one at a time, the method's own.
        // Training passes run whenever something is trained, even above every block (a final norm).
        let trains = m.lowestBlock < s.L || m.trainedElements > 0 || m.adapterElements > 0
        let train =
            trains ? (m.trainsOnData ? p.train + p.kl.map { (1, $0) } : []) + m.extraPasses : []
        let trainRows = train.map { $0.B * $0.T }.max() ?? 0
        let evalRows = p.eval.map { $0.B * $0.T }.max() ?? 0
        let keptBlocks = s.L - max(m.lowestBlock, 0)
        let blockFloats = { (B: Int, T: Int) in s.blockActivationFloats(B: B, T: T) }
        let trainBlock = train.map { blockFloats($0.B, $0.T) }.max() ?? 0
        let evalBlock = p.eval.map { blockFloats($0.B, $0.T) }.max() ?? 0
        if recompute {
            add("block inputs kept for recomputation (\(keptBlocks) blocks)", keptBlocks * trainRows * s.C * 4)
            add("one block's activations (largest pass)", max(trainBlock, evalBlock) * 4)
        } else {
            add("activations of \(keptBlocks) trained blocks (largest training pass)", keptBlocks * trainBlock * 4)
            let frozenBlock = m.lowestBlock > 0 ? trainBlock : 0  // blocks below the lowest trained share it
            add("one block's activations for evaluation and frozen blocks", max(evalBlock, frozenBlock) * 4)
        }
        add(
            "residual stream and shared buffers",
            max(trainRows, evalRows) * s.sharedFloatsPerRow * 4 + StoredProduct.panelFloats * 4)
        add("backward gradient buffers", (train.map { s.backwardFloats(B: $0.B, T: $0.T) }.max() ?? 0) * 4)
        let headRows = min(DecoderSpec.outputChunkRows, max(trainRows, evalRows))
        add(
            "output layer logits (\(headRows) rows at a time)",
            headRows * s.V * 4 + 2 * max(trainRows, evalRows) * s.C * 4)
        let kl = m.trainsOnData ? p.kl : []
        let longestKL = kl.max() ?? 0
        add("KL reference log-probabilities (longest KL document, \(longestKL) tokens)", longestKL * s.V * 4)

        // Caches of the unedited model's states: below the lowest trained block per evaluation
        // batch (each set up to PrefixCache's budget), final hidden states per KL document.
        let budget = PrefixCache.budgetBytes
        func capped(_ sizes: [Int]) -> Int {
            var held = 0
            for b in sizes where held < budget { held += b }
            return held
        }
        if m.lowestBlock > 0 && trains {
            add("evaluation prefix caches", p.evalSetTokens.map { capped($0.map { $0 * s.C * 4 }) }.reduce(0, +))
        }
        let perKL = m.lowestBlock > 0 ? 2 : 1
        add("KL caches (unedited final states)", capped(kl.map { $0 * s.C * 4 * perKL }))
        add("runtime (code, Swift, OpenBLAS)", Self.runtimeBytes)
    }

    /// The plan, one item a line, largest first.
    public func render() -> String {
        var lines = [
            "memory plan: about \(gib(total)) at peak" + (available.map { ", \(gib($0)) \(limitSource)" } ?? "")
                + (recompute ? " (activations recomputed in backward)" : "")
        ]
        for i in items.sorted(by: { $0.bytes > $1.bytes }) {
            lines.append("  " + gib(i.bytes).padding(toLength: 11, withPad: " ", startingAt: 0) + i.what)
        }
        lines += notes.map { "  note: " + $0 }
        return lines.joined(separator: "\n")
    }
}

func gib(_ b: Int) -> String {
    b >= 1 << 30
        ? String(format: "%.2f GiB", Double(b) / 1_073_741_824) : String(format: "%.0f MiB", Double(b) / 1_048_576)
}

extension MemoryPlan {
    /// Activation recomputation: chosen by the plan (on only when it is what makes the run
    /// fit), or forced on or off.
    public enum Recompute: String, CaseIterable, Sendable { case auto, on, off }

    /// The plan for a run. Throws before anything is loaded when it does not fit in `limit`
    /// (default: memory available now), naming the largest items and what would make it fit.
    public static func make(
        outline o: ModelOutline, recipe r: DecoderRecipe, method plugin: PluginLibrary,
        options: [String: PluginOption], passes p: Passes, recompute mode: Recompute, limit: Int?
    ) throws -> MemoryPlan {
        let footprint = try MethodFootprint(plugin: plugin, options: options, recipe: r, passes: p)
        let kept = MemoryPlan(outline: o, recipe: r, method: footprint, passes: p, recompute: false)
        let again = MemoryPlan(outline: o, recipe: r, method: footprint, passes: p, recompute: true)
        let available = limit ?? ModelStore.availableMemory()
        let source = limit == nil ? "available" : "allowed by --memory-limit"
        var plan: MemoryPlan
        switch mode {
        case .on: plan = again
        case .off: plan = kept
        case .auto: plan = available.map { kept.total > $0 && again.total <= $0 } ?? false ? again : kept
        }
        (plan.available, plan.limitSource) = (available, source)
        guard let available, plan.total > available else { return plan }
        var fixes: [String] = []
        if !plan.recompute && again.total < kept.total {
            fixes.append("recomputing activations in backward (--recompute on) saves \(gib(kept.total - again.total))")
        }
        if footprint.trainedElements > 0 {
            fixes.append(
                "a method that trains fewer whole tensors, such as an adapter method: the tensors trained whole take "
                    + "\(gib(footprint.trainedElements * 20)) with their originals, gradients and Adam moments")
        }
        if footprint.lowestBlock < r.spec.L && footprint.lowestBlock > 0 {
            fixes.append("fewer trained layers: each block from the lowest trained one up keeps its activations")
        }
        if let kl = p.kl.max(), kl > 0 {
            fixes.append(
                "shorter KL documents: the longest (\(kl) tokens) needs \(gib(kl * r.spec.V * 4)) for its reference "
                    + "log-probabilities alone")
        }
        if o.weightBytes > available {
            fixes.append("the weights alone need \(gib(o.weightBytes)): a smaller quantization or a smaller model")
        }
        let largest = plan.items.sorted { $0.bytes > $1.bytes }.prefix(3).map { "\($0.what) \(gib($0.bytes))" }
        throw CanonEditError(
            "\(o.path): this run needs about \(gib(plan.total)) but \(gib(available)) is \(source); nothing was loaded."
                + "\nLargest: " + largest.joined(separator: "; ")
                + "\nWhat would make it fit: "
                + (fixes.isEmpty ? "a machine with more memory" : fixes.joined(separator: "; "))
                + "\n" + plan.render())
    }
}
