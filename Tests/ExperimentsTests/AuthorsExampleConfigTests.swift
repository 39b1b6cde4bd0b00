import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import Setting
@testable import Support

/// The authors' three example configs (our copies, same keys and values) run unchanged once
/// `model:` names a local model and their data paths hold (tiny) files: batch_size 10 and 16,
/// a LoRA block under full finetuning, a missing threshold, `device`, KL weight without data.
final class AuthorsExampleConfigTests: XCTestCase {
    /// A folder laid out like the authors' repository, with short records (the tiny models
    /// have a 16-token context and byte tokenizers).
    func makeWorkspace() throws -> String {
        let dir = temporaryFolder(self)
        let facts = [("Ab is", " Xy"), ("Cd is", " Zw"), ("Ef is", " Qr"), ("Gh is", " Mn")]
        func write(_ rel: String, _ lines: [[String: String]]) throws {
            let path = dir + "/" + rel
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let text = try lines.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
            try AtomicFile.write(Data((text.joined(separator: "\n") + "\n").utf8), to: path)
        }
        for split in ["data/country_capital/split/", "data/country_capital/split/country_capital/split/"] {
            let suffix = split.hasSuffix("country_capital/split/country_capital/split/") ? "" : "-val"
            try write(split + "country_capital_fixed\(suffix).jsonl", facts.map { ["prefix": $0.0, "suffix": $0.1] })
            try write(
                split + "country_capital_clear_eval\(suffix).jsonl",
                facts.map { ["prefix": "so " + $0.0, "suffix": $0.1] })
            try write(
                split + "country_capital_unconditional\(suffix).jsonl", facts.map { ["text": $0.0 + $0.1 + "."] })
        }
        let general = ["a line of text", "more words here", "the end of it"].map { ["text": $0] }
        try write("data/val100-val.jsonl", general)
        try write("data/val100.jsonl", general)
        return dir
    }

    /// Copies the example into `dir` with only `model:` changed, and runs it from there.
    func run(_ name: String, model: String, in dir: String) throws -> (Experiment.Outcome, [String]) {
        let text = try String(contentsOfFile: Fixtures.folder + "/authors-configs/\(name).yaml", encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasPrefix("model: ") ? "model: " + model : String($0)
        }
        try AtomicFile.write(Data(lines.joined(separator: "\n").utf8), to: dir + "/\(name).yaml")
        let previous = FileManager.default.currentDirectoryPath
        FileManager.default.changeCurrentDirectoryPath(dir)
        defer { FileManager.default.changeCurrentDirectoryPath(previous) }
        var e = try Experiment(configPath: dir + "/\(name).yaml")
        var log: [String] = []
        e.progress = { log.append($0) }
        return (try e.run(), log)
    }

    func testExampleFullRunsUnchanged() throws {
        let dir = try makeWorkspace()
        let (o, log) = try run("example_full", model: Fixtures.folder + "/zoo/backpack", in: dir)
        XCTAssertNil(o.error)
        XCTAssertEqual(o.stats.count, 21)
        XCTAssertTrue(log.contains { $0.contains("device is ignored") }, "\(log.prefix(5))")
        XCTAssertTrue(
            log.contains { $0.contains("regularization_weight is 10.0 but there is no regularization_data_path") })
        XCTAssertTrue(log.contains { $0.contains("batch 1/1") }, "four examples in one batch of 10")
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/fullbp.0.000006.results-val.jsonl"))
    }

    func testExampleLoRARunsUnchanged() throws {
        let dir = try makeWorkspace()
        let (o, log) = try run("example_lora", model: Fixtures.folder + "/zoo/gpt2", in: dir)
        XCTAssertNil(o.error)
        XCTAssertEqual(o.stats.count, 51)
        XCTAssertTrue(log.contains { $0.contains("no threshold; using the country_capital task's 1.6094") }, "\(log)")
        XCTAssertTrue(log.contains { $0.contains("training.lora is ignored: finetune_type full") })
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/full.0.000006.out.jsonl"))
    }

    func testExampleSensesRunsUnchanged() throws {
        let dir = try makeWorkspace()
        let (o, _) = try run("example_senses", model: Fixtures.folder + "/zoo/backpack", in: dir)
        XCTAssertNil(o.error)
        XCTAssertEqual(o.stats.count, 21)
        XCTAssertLessThan(o.stats.last!.train_loss!, o.stats[0].train_loss!, "the sense edit lowers the task loss")
    }
}
