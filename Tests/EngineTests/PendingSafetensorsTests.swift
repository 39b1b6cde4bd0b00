import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// A safetensors file whose arrays are written in the background and whose metadata comes last
/// reads back as the same file written at once; nothing is in place before `finish`.
final class PendingSafetensorsTests: XCTestCase {
    var rng = SeededRandom(seed: 7)

    func tensors() -> [(String, Tensor)] {
        [
            ("w", Tensor([300, 70], values: randomArray(21000, &rng))),
            ("b", Tensor([5], values: randomArray(5, &rng))),
        ]
    }

    func files(in dir: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir).sorted() }

    func testFinishedFileReadsAsTheOneWrittenAtOnce() throws {
        let dir = temporaryFolder(self)
        let ts = tensors()
        let items = ts.map { SafetensorsWriter.Item.tensor($0.0, $0.1) } + [.indices("ix", [3, 1, 4])]
        let meta = ["records": String(repeating: "r", count: 500), "rng": "42"]
        try SafetensorsWriter.write(items: items, to: dir + "/now.safetensors", metadata: meta)
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/later.safetensors"))
        let pending = try PendingSafetensors(
            items: items, to: dir + "/later.safetensors", estimate: ["records": "short"], slack: 1024)
        // The previous file stays until the new one is finished.
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/later.safetensors")), Data("old".utf8))
        try pending.finish(metadata: meta)
        XCTAssertEqual(try files(in: dir), ["later.safetensors", "now.safetensors"])
        let now = try SafetensorsFile(path: dir + "/now.safetensors")
        let later = try SafetensorsFile(path: dir + "/later.safetensors")
        XCTAssertEqual(later.metadata, meta)
        for (name, t) in ts {
            XCTAssertEqual(try later.tensor(name, shape: t.shape).array, t.array)
            XCTAssertEqual(try later.tensor(name, shape: t.shape).array, try now.tensor(name, shape: t.shape).array)
        }
        XCTAssertEqual(try later.indices("ix"), [3, 1, 4])
    }

    func testMetadataBeyondTheReservedRoomRewritesTheWholeFile() throws {
        let dir = temporaryFolder(self)
        let ts = tensors()
        let pending = try PendingSafetensors(
            items: ts.map { .tensor($0.0, $0.1) }, to: dir + "/m.safetensors", dtype: .f16, slack: 8)
        let meta = ["records": String(repeating: "x", count: 10_000)]
        try pending.finish(metadata: meta)
        let f = try SafetensorsFile(path: dir + "/m.safetensors")
        XCTAssertEqual(f.metadata, meta)
        XCTAssertEqual(try f.tensor("w", shape: [300, 70]).array, ts[0].1.array.map { Float(Float16($0)) })
        XCTAssertEqual(try files(in: dir), ["m.safetensors"])
    }

    func testDiscardLeavesNothingAndTheOldFileAsItWas() throws {
        let dir = temporaryFolder(self)
        try Data("old".utf8).write(to: URL(fileURLWithPath: dir + "/c.safetensors"))
        do {
            let pending = try PendingSafetensors(
                items: tensors().map { .tensor($0.0, $0.1) }, to: dir + "/c.safetensors")
            pending.discard()
        }
        // Dropped without finishing (an evaluation that threw): the same.
        _ = try PendingSafetensors(items: tensors().map { .tensor($0.0, $0.1) }, to: dir + "/c.safetensors")
        XCTAssertEqual(try files(in: dir), ["c.safetensors"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/c.safetensors")), Data("old".utf8))
    }

    /// Running the unedited model swaps trained values with their originals while the writer
    /// runs: the file still holds the values the tensor had when writing began.
    func testSwappedStorageDoesNotReachTheFile() throws {
        let dir = temporaryFolder(self)
        let t = Tensor([1 << 18], values: randomArray(1 << 18, &rng))
        let original = Tensor([1 << 18])
        let expected = t.array
        let pending = try PendingSafetensors(items: [.tensor("w", t)], to: dir + "/s.safetensors")
        t.swapStorage(with: original)
        try pending.finish(metadata: [:])
        t.swapStorage(with: original)
        XCTAssertEqual(try SafetensorsFile(path: dir + "/s.safetensors").tensor("w", shape: [1 << 18]).array, expected)
    }
}
