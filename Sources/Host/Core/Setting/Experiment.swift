import Foundation

/// One experiment from a config file: loads the model, data and plugin, runs the training
/// loop (resuming if a checkpoint exists) and writes the epoch log and results file.
public struct Experiment {
    public let configPath: String
    public let config: ExperimentConfig
    public var pluginPaths: [String] = []
    public var skipMalformed = false
    public var progress: (String) -> Void = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }

    public init(configPath: String) throws {
        self.configPath = configPath
        config = try ExperimentConfig.load(configPath)
    }

    /// Data paths in configs are relative to the working directory (the authors' layout);
    /// failing that, to the config file's folder.
    public func resolve(_ path: String) -> String {
        if path.hasPrefix("/") || FileManager.default.fileExists(atPath: path) { return path }
        let beside = ((configPath as NSString).deletingLastPathComponent as NSString).appendingPathComponent(path)
        return FileManager.default.fileExists(atPath: beside) ? beside : path
    }

    var defaultStem: String {
        "runs/" + ((configPath as NSString).lastPathComponent as NSString).deletingPathExtension
    }
    public var logPath: String { config.logfile.map(resolveOutput) ?? defaultStem + ".log.jsonl" }
    public var resultsPath: String { config.resultsfile.map(resolveOutput) ?? defaultStem + ".results.json" }
    func resolveOutput(_ p: String) -> String { p }

    public struct Outcome {
        public let stats: [EpochFigures]
        public let results: [String: Any]
        public let error: String?
        public let trainCount: Int, evalCount: Int
    }

    /// Reads a JSONL file, reporting skipped lines when malformed ones are allowed.
    func examples(_ path: String, pair: Bool) throws -> [Example] {
        let (ex, report) = try JSONL.examples(resolve(path), pair: pair, skipMalformed: skipMalformed)
        if !report.skipped.isEmpty { progress("\(path): skipped \(report.skipped.count) malformed lines (first: line \(report.skipped[0].line): \(report.skipped[0].reason))") }
        return ex
    }
    func texts(_ path: String) throws -> [String] {
        let (t, report) = try JSONL.texts(resolve(path), skipMalformed: skipMalformed)
        if !report.skipped.isEmpty { progress("\(path): skipped \(report.skipped.count) malformed lines") }
        return t
    }

    /// The config's evaluation sets, tokenized with `tokenizer`.
    public func evaluator(tokenizer tok: BPETokenizer) throws -> Evaluator {
        let c = config
        let pair = c.training.suffix_pair ?? false
        guard let threshold = c.threshold else { throw CanonEditError("\(configPath): threshold is missing") }
        let hn = c.validation.hard_negative
        let hardNegative: HardNegativeSet? = try hn.map { h in
            h.eval_type == "unconditional"
                ? HardNegativeSet(seqs: try texts(h.hard_negative_path).map { .text(tok.encode($0)) }, perToken: true)
                : HardNegativeSet(seqs: try examples(h.hard_negative_path, pair: false).map { .suffix(prefix: tok.encode($0.prefix), suffix: tok.encode($0.suffix)) }, perToken: false)
        }
        // Efficacy (the canonical examples) and locality (hard-negative prefixes), as in `run`.
        let localityPrompts = try hn.flatMap { h in
            h.eval_type == "unconditional" ? nil : LocalityPrompts(try examples(h.hard_negative_path, pair: false).map { tok.encode($0.prefix) })
        }
        return Evaluator(intervention: InterventionSet(try examples(c.validation.intervention_eval_path, pair: pair), tokenizer: tok,
                                                       lossType: c.training.loss_type, threshold: threshold),
                         general: TextSet(try texts(c.validation.degredation_general_path), tokenizer: tok),
                         targeted: try c.validation.degredation_targeted_path.map { TextSet(try texts($0), tokenizer: tok) },
                         hardNegative: hardNegative,
                         edits: InterventionSet(try examples(c.training.dataset_path, pair: pair), tokenizer: tok,
                                                lossType: c.training.loss_type, threshold: threshold),
                         locality: localityPrompts)
    }

    public func run() throws -> Outcome {
        let c = config
        let pair = c.training.suffix_pair ?? false
        // Read and check every input before loading the model or training anything.
        let train = try examples(c.training.dataset_path, pair: pair)
        let evalExamples = try examples(c.validation.intervention_eval_path, pair: pair)
        let generalTexts = try texts(c.validation.degredation_general_path)
        let targetedTexts = try c.validation.degredation_targeted_path.map { try texts($0) }
        let hn = c.validation.hard_negative
        let hnUnconditional = hn?.eval_type == "unconditional"
        let hnExamples = try hn.map { hnUnconditional ? [] : try examples($0.hard_negative_path, pair: false) }
        let hnTexts = try hn.map { hnUnconditional ? try texts($0.hard_negative_path) : [] }
        let klTexts = try c.training.regularization_data_path.map { try texts($0) } ?? []
        guard !train.isEmpty else { throw CanonEditError("\(c.training.dataset_path): no canonical examples") }
        guard let threshold = c.threshold else { throw CanonEditError("\(configPath): threshold is missing") }

        let plugin = try PluginRegistry.find(c.training.finetune_type, extra: pluginPaths)
        let options = try plugin.options(c.methodOptions, source: configPath)

        progress("loading model \(c.model)")
        let lm = try ModelStore.load(try ModelStore.resolveConfigModel(c.model))
        let tok = lm.tokenizer
        let ctx = lm.model.contextLength
        let klDocs = klTexts.map { Array(tok.encode($0).prefix(ctx)) }.filter { $0.count >= 2 }
        let hardNegative: HardNegativeSet? = hn.map { _ in
            hnUnconditional ? HardNegativeSet(seqs: hnTexts!.map { .text(tok.encode($0)) }, perToken: true)
                : HardNegativeSet(seqs: hnExamples!.map { .suffix(prefix: tok.encode($0.prefix), suffix: tok.encode($0.suffix)) }, perToken: false)
        }
        let evaluator = Evaluator(
            intervention: InterventionSet(evalExamples, tokenizer: tok, lossType: c.training.loss_type, threshold: threshold),
            general: TextSet(generalTexts, tokenizer: tok), targeted: targetedTexts.map { TextSet($0, tokenizer: tok) },
            hardNegative: hardNegative,
            edits: InterventionSet(train, tokenizer: tok, lossType: c.training.loss_type, threshold: threshold),
            locality: hnExamples.map { LocalityPrompts($0.map { tok.encode($0.prefix) }) })
        progress("\(train.count) canonical examples, \(evalExamples.count) evaluation examples, \(evaluator.general.tokenCount) general-text tokens, method \(plugin.id) \(plugin.version)")

        let session = EditSession(model: lm.model, tokenizer: tok, examples: train, lossType: c.training.loss_type,
                                  seed: UInt64(max(c.seed ?? 0, 0)))
        session.resolvePath = resolve
        let method = PluginMethod(library: plugin, options: options)
        method.log = progress
        let recorder = try RunRecorder(logPath: logPath, resultsPath: resultsPath, config: c, modelPath: lm.path)
        let trainer = Trainer(config: c, data: .init(train: train, evaluator: evaluator, klDocs: klDocs),
                              session: session, method: method, recorder: recorder)
        trainer.progress = progress
        try method.prepare(session)
        trainer.prepared = true
        let trainedSize = session.trained.reduce(0) { $0 + $1.value.count }
        if c.training.save_edits ?? (trainedSize <= 16 << 20) { trainer.saveEdits = (lm.path, plugin.id) }
        var stats: [EpochFigures] = []
        var failure: String? = nil
        do { stats = try trainer.run() } catch let e as TrainingFailure {
            failure = e.reason
        } catch let e as PluginFailure {
            failure = e.message
        }
        if failure != nil {
            // Keep what the last good epoch recorded.
            stats = (try? RunRecorder.readLog(logPath)) ?? []
            progress("run stopped: \(failure!)")
            guard !stats.isEmpty else { throw CanonEditError(failure!) }
        }
        let results = try recorder.finish(stats, error: failure)
        return Outcome(stats: stats, results: results, error: failure, trainCount: train.count, evalCount: evalExamples.count)
    }
}

extension RunRecorder {
    /// The epoch records of a log file written by `record`.
    public static func readLog(_ path: String) throws -> [EpochFigures] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return try data.split(separator: UInt8(ascii: "\n")).map { try JSONDecoder().decode(EpochFigures.self, from: Data($0)) }
    }
}

extension ModelStore {
    /// A config's `model:` may be a built-in name, a path, or a Hugging Face id ("org/name")
    /// looked up as models/org--name or models/org/name.
    public static func resolveConfigModel(_ name: String) throws -> String {
        if builtIn[name.lowercased()] != nil || FileManager.default.fileExists(atPath: name) { return name }
        if name.contains("/") {
            for folder in modelsFolders {
                for candidate in [folder + "/" + name.replacingOccurrences(of: "/", with: "--"), folder + "/" + name]
                where FileManager.default.fileExists(atPath: candidate) { return candidate }
            }
            throw CanonEditError("model \(name): not found; put the Hugging Face folder at models/\(name.replacingOccurrences(of: "/", with: "--")) or give a path")
        }
        return name
    }
}
