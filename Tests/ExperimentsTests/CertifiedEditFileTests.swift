import Foundation
import TestSupport
import XCTest

@testable import Experiments
@testable import Setting
@testable import Support

/// An epoch certified in several balls is saved once: the balls' edit files are one file (hard
/// links), recording the tightest ball; a later epoch certified in fewer balls replaces only
/// those names.
final class CertifiedEditFileTests: XCTestCase {
    func inode(_ path: String) throws -> UInt64 {
        var st = stat()
        guard stat(path, &st) == 0 else { throw CanonEditError("\(path): no such file") }
        return UInt64(st.st_ino)
    }

    func testBallsCertifyingTheSameEpochShareOneFile() throws {
        let t = try TinyExperiment(self)
        let out = try t.run(t.config(method: "lora", lr: 0.02, epochs: 6))
        let general = out.stats.map(\.general)
        var sameEpochPairs = 0
        for (i, a) in Ball.paper.enumerated() {
            let ea = a.lastEpochInside(general)
            guard ea > 0 else { continue }
            let pa = RunRecorder.editPath(resultsPath: t.dir + "/run.results.json", ball: a)
            let (info, _) = try EditArtifact.read(pa)
            XCTAssertEqual(info.epoch, ea, "ball \(a.key)")
            // The recorded ball is the tightest one that epoch was inside.
            let tightest = Ball.paper.filter { $0.contains(general[ea], reference: general[0]) }
                .min { $0.epsilon < $1.epsilon }!
            XCTAssertEqual(info.ball, tightest.key, "ball \(a.key)")
            for b in Ball.paper[(i + 1)...] where b.lastEpochInside(general) > 0 {
                let pb = RunRecorder.editPath(resultsPath: t.dir + "/run.results.json", ball: b)
                let same = b.lastEpochInside(general) == ea
                if same { sameEpochPairs += 1 }
                XCTAssertEqual(try inode(pa) == inode(pb), same, "balls \(a.key) and \(b.key)")
            }
        }
        XCTAssertGreaterThan(sameEpochPairs, 0, "the run certified some epoch in two balls")
    }
}
