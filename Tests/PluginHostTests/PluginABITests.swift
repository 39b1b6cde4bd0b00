import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Experiments
@testable import PluginHost
@testable import Setting
@testable import Support

/// What the host accepts from a plugin's descriptor: any earlier 1.x minor version (by its
/// struct_size), and no capability it does not know.
final class PluginABITests: XCTestCase {
    func testUnknownCapabilityBitsAreRefusedByName() throws {
        let lib = try buildProbePlugin(self, defines: ["PROBE_UNKNOWN_CAPABILITY"])
        XCTAssertThrowsError(try PluginLibrary(path: lib)) {
            XCTAssertTrue("\($0)".contains("capability bits this host does not know (bit 20"), "\($0)")
        }
    }

    func testAnEarlierMinorVersionLoadsAndAShortDescriptorDoesNot() throws {
        let old = try PluginLibrary(path: try buildProbePlugin(self, defines: ["PROBE_MINOR_0"]))
        XCTAssertEqual(old.apiVersion, "1.0")
        XCTAssertThrowsError(try PluginLibrary(path: try buildProbePlugin(self, defines: ["PROBE_SHORT_DESCRIPTOR"]))) {
            XCTAssertTrue("\($0)".contains("descriptor struct_size 24 is smaller than ABI 1.0's"), "\($0)")
        }
    }

    /// A plugin built against the 1.1 header as it shipped (kept in Fixtures/abi-1.1) loads and
    /// runs on this host, whatever minor version the host's header is at now.
    func testAPluginBuiltAgainstTheABI11HeaderStillRuns() throws {
        let folder = Fixtures.folder + "/abi-1.1"
        let lib = try buildCPlugin(self, source: folder + "/norm_tune.c", include: folder)
        let plugin = try PluginLibrary(path: lib)
        XCTAssertEqual(plugin.apiVersion, "1.1")
        let t = try TinyExperiment(self)
        let o = try t.run(
            t.config(method: "norm_tune", lr: 0.05, epochs: 2, name: "abi11"),
            pluginPaths: [(lib as NSString).deletingLastPathComponent])
        XCTAssertNil(o.error)
        XCTAssertLessThan(o.stats.last!.train_loss!, o.stats[0].train_loss!)
    }

    /// A hook plugin built against the 1.2 header as it shipped (Fixtures/abi-1.2, LoReFT before
    /// it described itself) loads, is planned conservatively with a note, and runs.
    func testAPluginBuiltAgainstTheABI12HeaderStillRunsAndIsPlannedConservatively() throws {
        let folder = Fixtures.folder + "/abi-1.2"
        let lib = try buildCPlugin(self, source: folder + "/loreft.c", include: folder)
        let plugin = try PluginLibrary(path: lib)
        XCTAssertEqual(plugin.apiVersion, "1.2")
        XCTAssertFalse(plugin.describes)
        let t = try TinyExperiment(self)
        var e = try Experiment(configPath: t.config(method: "loreft", lr: 0.01, epochs: 2, name: "abi12"))
        e.pluginPaths = [(lib as NSString).deletingLastPathComponent]
        XCTAssertTrue(try e.plan()!.render().contains("plugin loreft does not describe itself"))
        let o = try e.run()
        XCTAssertNil(o.error)
        XCTAssertLessThan(o.stats.last!.train_loss!, o.stats[0].train_loss!)
    }
}
