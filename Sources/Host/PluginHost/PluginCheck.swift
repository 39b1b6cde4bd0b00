import Engine
import Foundation
import PluginAPI
import Setting
import Support

/// `canonedit plugins check`: a dry edit with a plugin on a tiny random Llama: prepare, a
/// few training steps on one canonical example, and checks that the edit changed something
/// and left no NaN, that the unedited model is still reachable, and that revert restores it.
public enum PluginCheck {
    public struct Report: Codable {
        public var path: String, id: String, version: String, abi: String
        public var hyperparameters: [Hyperparameter]
        public var trained_tensors: Int
        /// Whether the plugin describes itself (ABI 1.3), what its description counts as trained
        /// (whole tensors, adapters and its own tensors) and what its prepare selected.
        public var describes: Bool
        public var described_values: Int, trained_values: Int
        /// loss_after is null when the check stopped before the edit (the failure is in `problems`).
        public var loss_before: Double, loss_after: Double?
        public var ok: Bool
        public var problems: [String]
    }

    public static func run(_ lib: PluginLibrary, steps: Int = 3, learningRate: Double = 1e-2) throws -> Report {
        var problems: [String] = []
        let model: CausalLM =
            lib.capabilities & UInt64(CE_CAP_BACKPACK_ONLY) != 0 ? try TinyModels.backpack() : try TinyModels.llama()
        let tok = TinyModels.byteTokenizer()
        let record = Example(
            prefix: "The capital of Mauritius is", suffix: " Port Louis", suffix2: nil,
            subject: "Mauritius", line: 1)
        let example = TokenizedExample(record, tokenizer: tok)
        let session = EditSession(model: model, tokenizer: tok, examples: [example], lossType: .good, seed: 7)
        // Required file options (empty default, named like a path or corpus) get a small corpus.
        var given: [String: YAMLValue] = [:]
        let corpus = NSTemporaryDirectory() + "canonedit-check-\(getpid()).jsonl"
        try AtomicFile.write(
            Data((0..<8).map { "{\"text\": \"sample text number \($0) for the check\"}\n" }.joined().utf8), to: corpus)
        defer { try? FileManager.default.removeItem(atPath: corpus) }
        for h in lib.schema
        where h.kind == .string && h.defaultString.isEmpty && (h.name.contains("corpus") || h.name.contains("path")) {
            given[h.name] = .string(corpus)
        }
        let method = PluginMethod(library: lib, options: try lib.options(given, source: "defaults"))
        method.log = { _ in }
        let seq = example.sequences(pair: false)[0]
        func loss(train: Bool) throws -> Double {
            let h = TaskLossObjective(sequences: [seq], T: seq.ids.count, lossType: .good)
            let layout = RowLayout(lengths: [seq.ids.count], queries: [seq.query])
            try model.run(
                tokens: seq.ids, B: 1, T: seq.ids.count, head: h, train: train, hooks: RunHooks(layout: layout))
            return h.loss
        }
        let before = try loss(train: false)
        var stage = "describe"
        // A plugin that fails still gets its report: the failure, and how far the check got.
        func failed(_ error: Error) -> Report {
            Report(
                path: lib.path, id: lib.id, version: lib.version, abi: lib.apiVersion, hyperparameters: lib.schema,
                trained_tensors: session.trained.count, describes: lib.describes, described_values: 0,
                trained_values: session.trained.reduce(0) { $0 + $1.value.count }, loss_before: before,
                loss_after: nil, ok: false, problems: problems + ["\(stage) failed: \(error)"])
        }
        func train() throws {
            guard lib.trains else { return }
            if session.trained.isEmpty { problems.append("prepare selected nothing to train") }
            for s in 1...steps {
                session.zeroGrads()
                _ = try loss(train: true)
                try session.update(with: method, learningRate: learningRate, step: s)
                if let bad = session.firstNonFinite() { problems.append("update made \(bad) non-finite"); break }
            }
        }
        let description: MethodDescription
        do {
            description = try lib.describe(
                model: OutlineModel(model: model), options: method.options,
                run: OutlineRun(examples: 1, longestExample: seq.ids.count, sequential: false))
            stage = "prepare"
            try method.prepare(session)
            stage = "apply"
            if method.closedForm { try session.applyClosedForm(method) }
            stage = "update"
            try train()
        } catch { return failed(error) }
        let after = try loss(train: false)
        if !(after < before) {
            problems.append("the edit did not lower the canonical example's loss (\(before) → \(after))")
        }
        let original = try session.withOriginalModel { try loss(train: false) }
        if abs(original - before) > 1e-5 {
            problems.append("the unedited model is not recoverable (\(before) vs \(original))")
        }
        let trainedCount = session.trained.count
        if method.closedForm, trainedCount == 0 { problems.append("apply changed no tensor through the host") }
        // A decoder's memory plan is made from the description: it must not undercount.
        let described = description.trainedElements + description.adapterElements
        let trainedValues = session.trained.reduce(0) { $0 + $1.value.count }
        if lib.describes, lib.trains, model is DecoderLM, trainedValues > described {
            problems.append(
                "describe reported \(described) trained values but prepare selected \(trainedValues): the memory "
                    + "plan would count too little")
        }
        session.revert()
        if abs(try loss(train: false) - before) > 1e-5 { problems.append("revert did not restore the model") }
        return Report(
            path: lib.path, id: lib.id, version: lib.version, abi: lib.apiVersion, hyperparameters: lib.schema,
            trained_tensors: trainedCount, describes: lib.describes, described_values: described,
            trained_values: trainedValues, loss_before: before, loss_after: after,
            ok: problems.isEmpty, problems: problems)
    }
}
