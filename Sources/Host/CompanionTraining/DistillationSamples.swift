import Engine
import Foundation
import Setting
import Support

/// Text sampled from a base model (temperature 1, a fixed seed) with what a companion
/// Backpack learns from, captured in one inference pass of the base over each sample:
///   tokens   (D, T)      the documents, each starting with the prompt token
///   states   (D·T, C)    the residual stream entering block `layers` (the companion's input)
///   teacher  (D·T, C)    the base's final normalised hidden states
/// The teacher's next-token distribution is recomputed from `teacher` and the base's output
/// embedding when needed: C numbers per position instead of V (576 vs 49152 for SmolLM2).
/// Shards of `shardSize` documents are written to `folder` as they finish (fp16), so an
/// interrupted sampling run resumes where it stopped and gives the same data.
public final class DistillationSamples {
    public let tokens: [Int32]
    public let states: Tensor
    public let teacher: Tensor
    public let documents: Int, T: Int, C: Int
    /// Seconds the base model spent sampling and capturing (summed over resumed runs).
    public let seconds: Double

    init(tokens: [Int32], states: Tensor, teacher: Tensor, documents: Int, T: Int, seconds: Double) {
        self.tokens = tokens
        self.states = states
        self.teacher = teacher
        self.documents = documents
        self.T = T
        C = states.cols
        self.seconds = seconds
    }

    public static let shardSize = 32

    /// Samples (or reads back) `documents` documents of `T` tokens from `base`.
    public static func prepare(
        base: LoadedModel, layers: Int, documents: Int, T: Int, seed: UInt64, folder: String,
        prompt: String = "<|endoftext|>", progress: (String) -> Void = { _ in }
    ) throws -> DistillationSamples {
        guard let model = base.model as? DecoderLM else {
            throw CanonEditError("\(base.name): a companion needs a decoder base model")
        }
        guard documents >= 1, T >= 2, T <= model.contextLength else {
            throw CanonEditError("companion data needs at least one document of 2 to \(model.contextLength) tokens")
        }
        let start = base.tokenizer.startOfText(prompt)
        guard start.count == 1 else {
            throw CanonEditError(
                "the sampling prompt \(prompt.debugDescription) must be one token, it is \(start.count)")
        }
        try Folder.make(folder)
        let C = model.spec.C, identity = ModelIdentity.of(model)
        let shards = (documents + shardSize - 1) / shardSize
        var tokens: [Int32] = []
        let states = Tensor([documents * T, C]), teacher = Tensor([documents * T, C])
        var seconds = 0.0, sampledNow = 0
        let began = Date()
        for i in 0..<shards {
            let n = min(shardSize, documents - i * shardSize)
            let path = folder + String(format: "/shard-%04d.safetensors", i)
            let meta = [
                "format": "canonedit.distillation/1", "base_identity": identity, "seed": String(seed), "T": String(T),
                "layers": String(layers), "documents": String(n), "shard": String(i), "prompt": prompt,
            ]
            let rowOffset = i * shardSize * T
            if let f = try? SafetensorsFile(path: path), meta.allSatisfy({ f.metadata[$0.key] == $0.value }) {
                let tk = Tensor([n, T])
                try f.load("tokens", into: tk)
                tokens += tk.array.map { Int32($0) }
                for (name, dst) in [("states", states), ("teacher", teacher)] {
                    let t = Tensor([n * T, C])
                    try f.load(name, into: t)
                    (dst.data + rowOffset * C).update(from: t.data, count: n * T * C)
                }
                seconds += Double(f.metadata["seconds"] ?? "0") ?? 0
                progress("companion data: shard \(i + 1)/\(shards) read from \(path)")
                continue
            }
            try Cancellation.check()
            let t0 = Date()
            let gen = try Scoring.generateBatch(
                model, prompts: Array(repeating: start, count: n), maxTokens: T - 1, temperature: 1,
                seed: seed &+ UInt64(i))
            let docs = gen.map { start + $0 }
            guard docs.allSatisfy({ $0.count == T }) else {
                throw CanonEditError("sampling stopped early: documents must have \(T) tokens")
            }
            let flat = docs.flatMap { $0 }
            let hooks = RunHooks(saveAt: layers, saveFinalHidden: true)
            try model.run(tokens: flat, B: n, T: T, head: NoRows(), train: false, hooks: hooks)
            guard let st = hooks.saved?.x, let fh = hooks.finalHidden else {
                throw CanonEditError("the base model did not give its hidden states")
            }
            let took = Date().timeIntervalSince(t0)
            var m = meta
            m["seconds"] = String(took)
            try SafetensorsWriter.write(
                [("tokens", Tensor([n, T], values: flat.map(Float.init))), ("states", st), ("teacher", fh)],
                to: path, dtype: .f16, metadata: m)
            // What training sees is what the file holds: fp16-rounded states.
            let st16 = st.roundedToHalf(), fh16 = fh.roundedToHalf()
            (states.data + rowOffset * C).update(from: st16.data, count: n * T * C)
            (teacher.data + rowOffset * C).update(from: fh16.data, count: n * T * C)
            tokens += flat
            seconds += took
            sampledNow += n * T
            let rate = Double(sampledNow) / Date().timeIntervalSince(began)
            progress(
                String(
                    format: "companion data: shard %d/%d, %d tokens sampled (%.0f tok/s)", i + 1, shards, sampledNow,
                    rate))
        }
        return DistillationSamples(
            tokens: tokens, states: states, teacher: teacher, documents: documents, T: T, seconds: seconds)
    }
}

/// A head that asks for no logits (a pass run only for its saved states).
final class NoRows: HeadObjective {
    var rows: [Int] { [] }
    func consume(_ k: Range<Int>, logits: UnsafeMutablePointer<Float>, V: Int, wantGrad: Bool) {}
}
