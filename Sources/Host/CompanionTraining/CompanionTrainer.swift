import Engine
import Foundation
import Kernels
import Setting
import Support

/// How a companion is trained (AdamW on the distillation KL, linear warmup then cosine decay
/// to a tenth of the peak, global gradient-norm clipping).
public struct CompanionTrainingSettings: Codable, Equatable {
    public var epochs = 8
    public var batch = 8  // documents per step
    public var learningRate = 4e-4
    public var warmupSteps = 20  // without warmup one early step can blow the KL up
    public var clip = 1.0
    public var weightDecay = 0.01  // matrices only
    public var seed: UInt64 = 0
    public var heldOut = 16  // documents kept out of training
    public init() {}
}

/// One epoch's figures.
public struct CompanionEpoch: Codable, Equatable {
    public var epoch: Int
    public var steps: Int
    public var train_kl: Double  // mean over the epoch's steps, nats/token
    public var held_out_kl: Double  // nats/token on the held-out documents
    public var seconds: Double  // training time so far
}

/// Trains a companion Backpack on distillation samples, one checkpoint per epoch
/// (`folder/checkpoint.safetensors`: weights, Adam moments, history). A run with the same
/// settings and data resumes from it; different ones refuse it.
public final class CompanionTrainer {
    let companion: BackpackLM
    let base: DecoderLM
    let samples: DistillationSamples
    let settings: CompanionTrainingSettings
    let folder: String
    let layer: Int
    let adam = AdamService()  // the host's Adam state, one per parameter
    public private(set) var history: [CompanionEpoch] = []
    var step = 0
    var seconds = 0.0

    public init(
        companion: BackpackLM, base: DecoderLM, samples: DistillationSamples, settings: CompanionTrainingSettings,
        folder: String
    ) throws {
        guard samples.documents > settings.heldOut, settings.heldOut >= 1 else {
            throw CanonEditError(
                "companion training needs more than the \(settings.heldOut) held-out documents (have "
                    + "\(samples.documents))"
            )
        }
        self.companion = companion
        self.base = base
        self.samples = samples
        self.settings = settings
        self.folder = folder
        layer = companion.frozenPrefixLayers
        for p in companion.parameters { p.requiresGrad = true }
    }

    var trainDocuments: Int { samples.documents - settings.heldOut }
    var stepsPerEpoch: Int { (trainDocuments + settings.batch - 1) / settings.batch }
    var checkpointPath: String { folder + "/checkpoint.safetensors" }
    var fingerprint: String {
        let enc = JSONEncoder()
        enc.outputFormatting = .sortedKeys
        let s = String(decoding: (try? enc.encode(settings)) ?? Data(), as: UTF8.self)
        return
            "\(s) documents=\(samples.documents) T=\(samples.T) identity=\(ModelIdentity.of(base)) "
            + "params=\(companion.parameterCount)"
    }

    /// The learning rate at a 0-based step.
    func learningRate(_ step: Int) -> Double {
        let peak = settings.learningRate, total = max(stepsPerEpoch * settings.epochs, 1)
        if step < settings.warmupSteps { return peak * Double(step + 1) / Double(settings.warmupSteps) }
        let t = Double(step - settings.warmupSteps) / Double(max(total - settings.warmupSteps, 1))
        return peak * (0.1 + 0.9 * 0.5 * (1 + cos(Double.pi * min(t, 1))))
    }

    /// The rows (D·T) of documents `docs`, gathered: tokens, block states and teacher states.
    func batch(_ docs: [Int]) -> (tokens: [Int32], states: Tensor, teacher: Tensor) {
        let (T, C) = (samples.T, samples.C)
        var tokens: [Int32] = []
        let st = Tensor([docs.count * T, C]), te = Tensor([docs.count * T, C])
        for (i, d) in docs.enumerated() {
            tokens += samples.tokens[(d * T)..<((d + 1) * T)]
            (st.data + i * T * C).update(from: samples.states.data + d * T * C, count: T * C)
            (te.data + i * T * C).update(from: samples.teacher.data + d * T * C, count: T * C)
        }
        return (tokens, st, te)
    }

    /// Mean KL (nats/token) of `docs`; with `train` also accumulates gradients of the mean.
    func kl(_ docs: [Int], train: Bool) throws -> Double {
        let (tokens, st, te) = batch(docs)
        let N = tokens.count
        let obj = DistillationObjective(
            rows: N, teacher: te.data, head: base.head, bias: base.headBias, weight: 1 / Float(N))
        try companion.run(
            tokens: tokens, B: docs.count, T: samples.T, head: obj, train: train,
            hooks: RunHooks(resume: ResidualState(layer: layer, x: st)))
        return obj.meanKL
    }

    public func heldOutKL() throws -> Double {
        let docs = Array(trainDocuments..<samples.documents)
        var total = 0.0
        for start in stride(from: 0, to: docs.count, by: settings.batch) {
            let part = Array(docs[start..<min(start + settings.batch, docs.count)])
            total += try kl(part, train: false) * Double(part.count)
        }
        return total / Double(docs.count)
    }

    /// Clips the global gradient norm and takes one AdamW step. Returns the norm before clipping.
    func update(lr: Double) -> Double {
        var sq = 0.0
        for p in companion.parameters { if let g = p.grad { sq += ce_sum_squares(g.data, Int64(g.count)) } }
        let norm = sq.squareRoot(), scale = norm > settings.clip ? Float(settings.clip / norm) : 1
        step += 1
        for p in companion.parameters {
            guard let g = p.grad else { continue }
            if scale != 1 { ce_scale(g.data, scale, Int64(g.count)) }
            adam.step(
                p, lr: lr, beta1: 0.9, beta2: 0.999, eps: 1e-8,
                weightDecay: p.value.shape.count == 2 ? settings.weightDecay : 0)
            g.zero()
        }
        return norm
    }

    public func train(
        progress: (String) -> Void = { _ in }, cancelled: () -> Bool = { false }
    ) throws -> [CompanionEpoch] {
        try resume(progress)
        if history.isEmpty {
            let h = try heldOutKL()
            progress(String(format: "companion: held-out KL before training %.4f nats/token", h))
        }
        while history.count < settings.epochs {
            let e = history.count
            var rng = SeededRandom(seed: settings.seed &+ UInt64(e) &* 7919)
            var order = Array(0..<trainDocuments)
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            var sum = 0.0, steps = 0
            let t0 = Date()
            for start in stride(from: 0, to: order.count, by: settings.batch) {
                if cancelled() {
                    throw CanonEditError(
                        "companion training interrupted; the last finished epoch is saved in \(checkpointPath)")
                }
                let docs = Array(order[start..<min(start + settings.batch, order.count)])
                let lr = learningRate(step)
                let loss = try kl(docs, train: true)
                guard loss.isFinite else {
                    throw CanonEditError(
                        "companion training diverged at step \(step) (KL \(loss)); lower --lr or raise --warmup")
                }
                let norm = update(lr: lr)
                sum += loss
                steps += 1
                if steps % 10 == 0 || steps == stepsPerEpoch {
                    let rate = Double(steps * settings.batch * samples.T) / Date().timeIntervalSince(t0)
                    progress(
                        String(
                            format: "companion: epoch %d/%d step %d/%d: KL %.4f, grad norm %.2f, lr %.2e (%.0f tok/s)",
                            e + 1, settings.epochs, steps, stepsPerEpoch, sum / Double(steps), norm, lr, rate))
                }
            }
            seconds += Date().timeIntervalSince(t0)
            let h = try heldOutKL()
            history.append(
                CompanionEpoch(
                    epoch: e + 1, steps: step, train_kl: sum / Double(max(steps, 1)), held_out_kl: h, seconds: seconds))
            progress(
                String(
                    format:
                        "companion: epoch %d done: train KL %.4f, held-out KL %.4f nats/token, %.1f min of training",
                    e + 1, sum / Double(max(steps, 1)), h, seconds / 60))
            try saveCheckpoint()
        }
        return history
    }

    func saveCheckpoint() throws {
        try Folder.make(folder)
        var tensors: [(String, Tensor)] = []
        for p in companion.parameters {
            let s = adam.state(for: p)
            tensors += [(p.name, p.value), (p.name + ".adam_m", s.m), (p.name + ".adam_v", s.v)]
        }
        let hist = String(decoding: try JSONEncoder().encode(history), as: UTF8.self)
        try SafetensorsWriter.write(
            tensors, to: checkpointPath,
            metadata: ["fingerprint": fingerprint, "step": String(step), "seconds": String(seconds), "history": hist])
    }

    func resume(_ progress: (String) -> Void) throws {
        guard FileManager.default.fileExists(atPath: checkpointPath) else { return }
        let f = try SafetensorsFile(path: checkpointPath)
        guard f.metadata["fingerprint"] == fingerprint else {
            throw CanonEditError(
                "\(checkpointPath) was made with other settings or data; remove it or train into another --out")
        }
        step = Int(f.metadata["step"] ?? "") ?? 0
        for p in companion.parameters {
            let s = adam.state(for: p)
            try f.load(p.name, into: p.value)
            try f.load(p.name + ".adam_m", into: s.m)
            try f.load(p.name + ".adam_v", into: s.v)
            s.t = Int64(step)  // every parameter is updated on every step
        }
        seconds = Double(f.metadata["seconds"] ?? "") ?? 0
        history = try JSONDecoder().decode([CompanionEpoch].self, from: Data((f.metadata["history"] ?? "[]").utf8))
        progress("companion: resumed after epoch \(history.count) (step \(step)) from \(checkpointPath)")
    }
}
