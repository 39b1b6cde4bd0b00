import Engine
import Foundation
import PluginHost
import Setting
import Support

/// One experiment from a config file: loads the model, data and plugin, runs the training
/// loop (resuming if a checkpoint exists) and writes the epoch log and results file.
public struct Experiment {
    public let configPath: String
    /// Where the config's relative paths lead (`run --root`).
    public let configPaths: ConfigPaths
    public private(set) var config: ExperimentConfig
    public var pluginPaths: [String] = []
    public var skipMalformed = false
    /// Keep the checkpoint after the run finishes (by default it is deleted: the results and
    /// the edit of each ball are what a finished run leaves).
    public var keepCheckpoint = false
    /// Keep every evaluation example's outcome (`run --log-samples`): for each ball, the epoch it
    /// certifies is written to `<results>.samples-<ε>.jsonl` and its fixed and broken examples listed.
    public var logSamples = false
    /// Memory the run may use (`run --memory-limit`); nil: what the machine has available.
    public var memoryLimit: Int?
    public var recompute: MemoryPlan.Recompute = .auto
    /// Start over when the results file holds a finished run (`run --overwrite`); otherwise refuse.
    public var overwrite = false
    /// The canonedit version results record.
    public var version: String?
    public var progress: (String) -> Void = ProgressPrinter.line
    /// Lines a terminal may redraw in place; `progress` if nil.
    public var transient: ((String) -> Void)?

    /// Keys of the authors' schema that this config sets and canonedit ignores or fills in.
    public let warnings: [String]

    public init(configPath: String, epochs: Int? = nil, root: String? = nil) throws {
        self.configPath = configPath
        configPaths = ConfigPaths(config: configPath, root: root)
        (config, warnings) = try ExperimentConfig.loadChecked(configPath)
        if let epochs {
            guard (0...10_000).contains(epochs) else { throw CanonEditError("--epochs must be 0…10000") }
            config.training.num_epochs = epochs
        }
    }

    /// An input path of the config, found as `ConfigPaths` says.
    public func resolve(_ path: String) -> String { configPaths.input(path) }

    /// The config's `model`: a file path found as inputs are, else a built-in name or hub id as written.
    var modelReference: String {
        let found = resolve(config.model)
        return ModelStore.builtIn[config.model.lowercased()] == nil && FileManager.default.fileExists(atPath: found)
            ? found : config.model
    }

    /// The file or folder the config's `model` is.
    func modelFile() throws -> String { try ModelStore.resolve(try ModelStore.resolveConfigModel(modelReference)) }

    /// Outputs not named in the config are named after the config file: a copy writes its own.
    var defaultStem: String {
        "runs/" + ((configPath as NSString).lastPathComponent as NSString).deletingPathExtension
    }
    public var logPath: String { configPaths.output(config.logfile ?? defaultStem + ".log.jsonl") }
    public var resultsPath: String { configPaths.output(config.resultsfile ?? defaultStem + ".results.json") }
    /// Every file the run writes.
    public var paths: RunPaths { RunPaths(log: logPath, results: resultsPath) }

    public struct Outcome {
        public let stats: [EpochFigures]
        /// The model after the method's prepare, when that changed it (balls stay relative to
        /// stats[0], the model before any method code ran).
        public let afterPrepare: EpochFigures?
        public let results: RunResults
        public let error: String?
        public let trainCount: Int, evalCount: Int
    }

    /// The config's data files, read and checked.
    func data(readKL: Bool = true) throws -> ExperimentData {
        for (field, path) in inputFields.sorted(by: { $0.key < $1.key })
        where !FileManager.default.fileExists(atPath: resolve(path)) {
            throw configPaths.missing(field, path)
        }
        return try ExperimentData(
            config: config, source: configPath, resolve: resolve, skipMalformed: skipMalformed,
            readKL: readKL, progress: progress)
    }

    /// The config's evaluation sets, tokenized with `tokenizer`.
    public func evaluator(tokenizer tok: Tokenizer) throws -> Evaluator {
        try data(readKL: false).tokenized(with: tok, contextLength: Int.max).evaluator
    }

    /// Every input file by the key that names it: the config's data, and plugin options that
    /// name existing files (a background corpus, key statistics' corpus).
    func dataFiles(_ options: [String: PluginOption]) -> [String: String] {
        var files = inputFields
        for (k, v) in options {
            if case .string(let s) = v, !s.isEmpty, FileManager.default.fileExists(atPath: resolve(s)) {
                files["method." + k] = s
            }
        }
        return files.mapValues(resolve)
    }

    /// Refuses a logfile or resultsfile that is the other, or that names an input (the config,
    /// a data file, the model's file or a file in its folder): the run would overwrite it.
    func checkOutputsAreNotInputs(_ options: [String: PluginOption]) throws {
        func real(_ p: String) -> String { URL(fileURLWithPath: p).standardizedFileURL.resolvingSymlinksInPath().path }
        let (log, results) = (real(logPath), real(resultsPath))
        guard log != results else {
            throw CanonEditError("\(configPath): logfile and resultsfile are one file (\(logPath))")
        }
        let model = real((try? modelFile()) ?? modelReference)
        var inputs =
            dataFiles(options).map { ("config key \($0.key)", real($0.value)) } + [("the config", real(configPath))]
        inputs.append(("the model", model))
        for (key, output) in [("logfile", log), ("resultsfile", results)] {
            let what =
                inputs.first { $0.1 == output }?.0 ?? (output.hasPrefix(model + "/") ? "a file of the model" : nil)
            if let what {
                throw CanonEditError("\(configPath): \(key) \(output) is \(what): the run would overwrite it")
            }
        }
    }

    /// The config's data files by the key that names them, as written in the config.
    var inputFields: [String: String] {
        let c = config
        var files = [
            "training.dataset_path": c.training.dataset_path,
            "validation.intervention_eval_path": c.validation.intervention_eval_path,
            "validation.degredation_general_path": c.validation.degredation_general_path,
        ]
        files["validation.degredation_targeted_path"] = c.validation.degredation_targeted_path
        files["validation.hard_negative.hard_negative_path"] = c.validation.hard_negative?.hard_negative_path
        files["training.regularization_data_path"] = c.training.regularization_data_path
        return files
    }

    /// `<results>.tradeoff.svg` (and PDF, PNG): success against the general-loss change per epoch.
    func writeTradeoff(_ stats: [EpochFigures]) {
        guard stats.count > 1 else { return }
        let path = paths.tradeoff
        let title = "\(config.training.finetune_type) on \(config.model): success against the change in general loss"
        do {
            try AtomicFile.write(Data(TradeoffFigure.svg(stats, title: title).utf8), to: path)
            let converted = Rasterizer.convert(path)
            progress("trade-off figure: " + ([path] + converted.files).joined(separator: ", "))
            if let note = converted.note { progress("note: " + note) }
        } catch { progress("trade-off figure not written: \(error)") }
    }

    /// For each ball: the samples of the epoch it certifies beside the results, and which
    /// evaluation examples the edit fixed and broke against epoch 0.
    func reportSamples(_ stats: [EpochFigures], recorder: RunRecorder) throws {
        let initial = try RunRecorder.readSamples(recorder.samplesPath(epoch: 0))
        for ball in Ball.paper {
            let i = ball.lastEpochInside(stats.map(\.general))
            let target = paths.samples(ball)
            try? FileManager.default.removeItem(atPath: target)
            try FileManager.default.copyItem(atPath: recorder.samplesPath(epoch: i), toPath: target)
            let (fixed, broke) = SampleLog.changes(before: initial, after: try RunRecorder.readSamples(target))
            progress(
                "ball \(ball.label) (epoch \(i)): the edit fixed \(fixed.count) and broke \(broke.count) of "
                    + "\(initial.filter { $0.set == "eval" }.count) evaluation examples; samples in \(target)")
            for s in fixed {
                progress("  fixed  line \(s.line): \(s.prefix.debugDescription) → \(s.target.debugDescription)")
            }
            for s in broke {
                progress("  broke  line \(s.line): \(s.prefix.debugDescription) → \(s.target.debugDescription)")
            }
        }
    }

    /// The run's memory plan, made from the model's headers, the data and the method before any
    /// weight is read (nil for an ensemble, whose members load with their edits).
    public func plan() throws -> MemoryPlan? {
        let plugin = try PluginRegistry.find(config.training.finetune_type, extra: pluginPaths)
        return try planned(
            try data(), method: plugin, options: try plugin.options(config.methodOptions, source: configPath))?.plan
    }

    func planned(
        _ records: ExperimentData, method: PluginLibrary, options: [String: PluginOption]
    ) throws -> (plan: MemoryPlan, outline: ModelOutline, data: ExperimentData.Tokenized)? {
        let path = try modelFile()
        if [".yaml", ".yml", ".json"].contains(where: path.hasSuffix) { return nil }
        let outline = try ModelStore.outline(path)
        guard let recipe = outline.decoder, let tok = outline.tokenizer else { return nil }
        let data = try records.tokenized(with: tok, contextLength: recipe.spec.context)
        let passes = MemoryPlan.Passes(data: data, config: config, contextLength: recipe.spec.context)
        let plan = try MemoryPlan.make(
            outline: outline, recipe: recipe, method: method, options: options, passes: passes, recompute: recompute,
            limit: memoryLimit)
        return (plan, outline, data)
    }

    /// The model and the tokenized data, loaded only after the memory plan says the run fits.
    func loadPlanned(
        _ records: ExperimentData, method: PluginLibrary, options: [String: PluginOption]
    ) throws -> (LoadedModel, ExperimentData.Tokenized, MemoryPlan?) {
        if let (plan, outline, data) = try planned(records, method: method, options: options) {
            progress(plan.render())
            progress("loading model \(config.model)")
            let lm = try outline.load()
            (lm.model as? DecoderLM)?.recomputeActivations = plan.recompute
            return (lm, data, plan)
        }
        progress("loading model \(config.model) (no memory plan for an ensemble or a Backpack)")
        let lm = try ModelLoader.load(try ModelStore.resolveConfigModel(modelReference))
        return (lm, try records.tokenized(with: lm.tokenizer, contextLength: lm.model.contextLength), nil)
    }

    public func run() throws -> Outcome {
        let c = config
        for w in warnings { progress("warning: " + w) }
        // Read and check every input before loading the model or training anything.
        let records = try data()
        let plugin = try PluginRegistry.find(c.training.finetune_type, extra: pluginPaths)
        let options = try plugin.options(c.methodOptions, source: configPath)
        try checkOutputsAreNotInputs(options)
        let fm = FileManager.default
        if !overwrite, fm.fileExists(atPath: resultsPath), !fm.fileExists(atPath: paths.checkpoint) {
            throw CanonEditError(
                "\(resultsPath) holds a finished run of \(configPath): pass --overwrite to start it over (a run "
                    + "kept with --keep-checkpoint is extended by --epochs N instead)")
        }

        let (lm, data, _) = try loadPlanned(records, method: plugin, options: options)
        progress(
            "\(data.train.count) canonical examples, \(records.evaluation.count) evaluation examples, "
                + "\(data.evaluator.general.tokenCount) general-text tokens, method \(plugin.id) \(plugin.version) "
                + "(\(plugin.path))")

        let session = EditSession(
            model: lm.model, tokenizer: lm.tokenizer, examples: data.train,
            lossType: c.training.loss_type, seed: UInt64(max(c.seed ?? 0, 0)))
        session.resolvePath = resolve
        let method = PluginMethod(library: plugin, options: options)
        method.log = progress
        method.transient = transient
        let recorder = try RunRecorder(
            logPath: logPath, resultsPath: resultsPath, config: c, modelPath: lm.path, dataFiles: dataFiles(options))
        recorder.version = version
        var evaluator = data.evaluator
        if logSamples { evaluator.sampleLog = SampleLog() }
        evaluator.progress = transient
        let trainer = Trainer(
            config: c, data: .init(train: data.train, evaluator: evaluator, klDocs: data.klDocs),
            session: session, method: method, recorder: recorder)
        trainer.progress = progress
        trainer.transient = transient
        if c.training.save_edits ?? true { trainer.saveEdits = (lm.path, plugin.id) }
        trainer.checkpointsLastEpoch = keepCheckpoint
        trainer.makeMethod = { [progress, transient] in
            let m = PluginMethod(library: plugin, options: options)
            m.log = progress
            m.transient = transient
            return m
        }
        var stats: [EpochFigures] = []
        var failure: String? = nil
        do { stats = try trainer.run() } catch let e as TrainingFailure {
            failure = e.reason
        } catch let e as PluginFailure {
            failure = e.message
        }
        if let failure {
            // Keep what the last good epoch recorded.
            stats = (try? RunRecorder.readLog(logPath)) ?? []
            progress("run stopped: \(failure)")
            guard !stats.isEmpty else { throw CanonEditError(failure) }
        }
        let results = try recorder.finish(stats, error: failure)
        writeTradeoff(stats)
        if logSamples { try reportSamples(stats, recorder: recorder) }
        if !keepCheckpoint { recorder.removeCheckpoint() }
        return Outcome(
            stats: stats, afterPrepare: recorder.afterPrepare, results: results, error: failure,
            trainCount: data.train.count,
            evalCount: records.evaluation.count)
    }
}
