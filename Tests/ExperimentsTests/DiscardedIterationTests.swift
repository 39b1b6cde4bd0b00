import Foundation
import TestSupport
import XCTest

@testable import Experiments
@testable import Setting

/// Under the authors' rule (grad_acc_steps > 1, gradients cleared every iteration) only one
/// iteration in a group reaches the optimizer. Running the others forward only, without their
/// KL term, changes nothing a run records: losses, figures and the edit are the same bits.
final class DiscardedIterationTests: XCTestCase {
    func testForwardOnlyIterationsGiveTheSameRun() throws {
        let t = try TinyExperiment(self)
        defer { Trainer.skipsDiscardedPasses = true }
        func run(_ name: String, skipping: Bool) throws -> (records: [EpochFigures], edit: Data, skipped: Int) {
            Trainer.skipsDiscardedPasses = skipping
            let before = Trainer.forwardOnlyIterations
            // Three examples in groups of two: iterations 1 and 3 of each epoch are discarded.
            let o = try t.run(t.config(method: "full", lr: 3e-3, epochs: 2, name: name, gradAccSteps: 2))
            let ball = try XCTUnwrap(Ball.paper.first { o.results.at($0) != nil }, "an epoch is certified")
            let edit = try Data(contentsOf: URL(fileURLWithPath: t.dir + "/\(name).edit-\(ball.key).safetensors"))
            return (o.stats, edit, Trainer.forwardOnlyIterations - before)
        }
        let full = try run("full", skipping: false)
        let skipped = try run("skipped", skipping: true)
        XCTAssertEqual(full.skipped, 0)
        XCTAssertEqual(skipped.skipped, 4, "two discarded iterations in each of two epochs")
        XCTAssertEqual(skipped.records.count, 3)
        for (a, b) in zip(full.records, skipped.records) {
            XCTAssertEqual(a.train_loss, b.train_loss)
            XCTAssertEqual(a.general, b.general)
            XCTAssertEqual(a.intervention, b.intervention)
            XCTAssertEqual(a.hard_negative, b.hard_negative)
        }
        XCTAssertNotEqual(full.records[1].general, full.records[0].general, "the run trained")
        XCTAssertTrue(full.edit == skipped.edit, "the same edit, bit for bit")
    }
}
