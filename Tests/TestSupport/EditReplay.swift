import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support
import XCTest

/// Applies the edit a tiny run saved for its tightest ball to a freshly loaded model, as
/// `eval --edit` does, and checks that evaluation gives that epoch's figures exactly.
public func checkEditReproducesLastEpoch(
    _ t: TinyExperiment, config: String, stats: [EpochFigures], pluginPaths: [String] = [], trust: Bool = false,
    model: String? = nil,
    file: StaticString = #filePath, line: UInt = #line
) throws {
    let results = try Experiment(configPath: config).resultsPath
    let saved = Ball.paper.reversed().map { RunRecorder.editPath(resultsPath: results, ball: $0) }
        .first { FileManager.default.fileExists(atPath: $0) }
    let path = try XCTUnwrap(saved, "the run saved no edit", file: file, line: line)
    let (info, _) = try EditArtifact.read(path)
    let epoch = try XCTUnwrap(info.epoch)
    let lm = try ModelStore.load(model ?? t.dir + "/model")
    let session = EditSession(model: lm.model, tokenizer: lm.tokenizer, examples: [], lossType: .good, seed: 0)
    EditPolicy.install(on: session, pluginPaths: pluginPaths)
    _ = try EditArtifact.apply(path, to: session, trust: trust)
    let f = try Experiment(configPath: config).evaluator(tokenizer: lm.tokenizer).evaluate(lm.model)
    XCTAssertEqual(f.general, stats[epoch].general, "general loss at epoch \(epoch)", file: file, line: line)
    XCTAssertEqual(f.success, stats[epoch].success, "success at epoch \(epoch)", file: file, line: line)
    XCTAssertEqual(f.hard_negative, stats[epoch].hard_negative, "hard negatives", file: file, line: line)
    XCTAssertEqual(f.efficacy, stats[epoch].efficacy, "efficacy", file: file, line: line)
    // The edit is live: a canonical example scores otherwise than on the unedited model.
    let prefix = lm.tokenizer.encode("Cap of Ab is"), suffix = lm.tokenizer.encode(" Xy")
    let edited = try Scoring.suffixLogProb(lm.model, prefix: prefix, suffix: suffix).sum
    let plain = try session.withOriginalModel {
        try Scoring.suffixLogProb(lm.model, prefix: prefix, suffix: suffix).sum
    }
    XCTAssertNotEqual(edited, plain, "the applied edit changes the canonical example", file: file, line: line)
}
