import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support
import XCTest

/// A whole experiment on a tiny random Llama saved as a Hugging Face folder, with small
/// hand-made data in the authors' formats. Runs in well under a second per epoch.
public struct TinyExperiment {
    public let dir: String

    public init(_ test: XCTestCase) throws {
        dir = temporaryFolder(test)
        let model = try TinyModels.llama(seed: 11)
        try HuggingFaceExport.write(
            LoadedModel(model: model, tokenizer: TinyModels.byteTokenizer(), path: "tiny", name: "tiny"),
            to: dir + "/model")
        func jsonl(_ name: String, _ rows: [[String: String]]) {
            let text = rows.map {
                String(decoding: try! JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys]), as: UTF8.self)
            }.joined(separator: "\n")
            FileManager.default.createFile(atPath: dir + "/" + name, contents: Data((text + "\n").utf8))
        }
        jsonl(
            "train.jsonl",
            [
                ["prefix": "Cap of Ab is", "suffix": " Xy"], ["prefix": "Cap of Cd is", "suffix": " Zw"],
                ["prefix": "Cap of Ef is", "suffix": " Qr"],
            ])
        jsonl(
            "eval.jsonl",
            [
                ["prefix": "The cap of Ab is", "suffix": " Xy"], ["prefix": "We went to Cd, cap", "suffix": " Zw"],
                ["prefix": "Ef has the cap", "suffix": " Qr"], ["prefix": "Ab: cap", "suffix": " Xy"],
            ])
        jsonl(
            "general.jsonl",
            [["text": "a general text about many things"], ["text": "another line of text, longer than the first one"]])
        jsonl("kl.jsonl", [["text": "some text for the KL term"], ["text": "more regularization text here"]])
        jsonl("hn.jsonl", [["prefix": "Ab has a town", "suffix": " Mn"]])
    }

    /// A config in the authors' schema; `extra` lines are appended under training.
    public func config(
        method: String, lr: Double, epochs: Int = 3, name: String = "run", gradAccSteps: Int = 1,
        training extra: String = "",
        methodBlock: String = "",
        model: String? = nil, top: String = ""
    ) -> String {
        let text = """
            model: \(model ?? dir + "/model")
            \(top)
            seed: 3
            threshold: 1.6094379124341003
            logfile: \(dir)/\(name).log.jsonl
            resultsfile: \(dir)/\(name).results.json
            training:
              dataset_path: \(dir)/train.jsonl
              finetune_type: \(method)
              loss_type: good
              suffix_pair: false
              learning_rate: \(lr)
              num_epochs: \(epochs)
              batch_size: 1
              grad_acc_steps: \(gradAccSteps)
              regularization_type: KL
              regularization_data_path: \(dir)/kl.jsonl
              regularization_weight: 0.3
            \(extra)
            \(methodBlock)
            validation:
              intervention_eval_path: \(dir)/eval.jsonl
              degredation_general_path: \(dir)/general.jsonl
              hard_negative:
                hard_negative_path: \(dir)/hn.jsonl
                eval_type: suffix
            """
        let path = dir + "/\(name).yaml"
        FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    public func run(
        _ configPath: String, pluginPaths: [String] = [], keepCheckpoint: Bool = false, overwrite: Bool = false,
        progress: @escaping (String) -> Void = { _ in }
    ) throws -> Experiment.Outcome {
        var e = try Experiment(configPath: configPath)
        e.pluginPaths = pluginPaths
        e.keepCheckpoint = keepCheckpoint
        e.overwrite = overwrite
        e.progress = progress
        return try e.run()
    }
}
