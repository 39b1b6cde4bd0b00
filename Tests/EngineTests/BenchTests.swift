import Foundation
import TestSupport
import XCTest

@testable import Engine

/// The figures `bench` and `run` report that come from /proc, and what `bench` runs.
final class BenchTests: XCTestCase {
    /// /proc lines put a tab and no space before a number of eight digits (10 GB and up).
    func testProcLinesAreReadWithTabs() {
        XCTAssertEqual(Bench.kilobytes("VmHWM:\t11779264 kB"), 11_779_264)
        XCTAssertEqual(Bench.kilobytes("VmHWM:\t  795648 kB"), 795_648)
        XCTAssertEqual(Bench.kilobytes("MemAvailable:   23411328 kB"), 23_411_328)
        XCTAssertGreaterThan(Bench.peakResidentBytes(), 1 << 20)
    }

    /// Forward reads frozen matrices as stored; forward+backward of every parameter holds them
    /// in fp32, as training does; training only the norms leaves them stored. Every timed pass
    /// (warm-ups too) follows its own sgemm sample.
    func testTrainingEveryParameterHoldsFp32AndEachPassHasItsSample() throws {
        let src = Fixtures.folder + "/zoo/llama", dir = temporaryFolder(self)
        for f in ["config.json", "tokenizer.json"] {
            try FileManager.default.copyItem(atPath: src + "/" + f, toPath: dir + "/" + f)
        }
        let fp32 = try ModelStore.load(src)
        try StoredWeightsTests.writeHalf(
            fp32.model.parameters.map { ($0.name, $0.value) }, dtype: "F16", to: dir + "/model.safetensors")
        func stored(_ lm: LoadedModel) -> Int { lm.model.linears.filter { !$0.weight.value.isMaterialized }.count }

        let norms = try ModelStore.load(dir)
        XCTAssertGreaterThan(stored(norms), 0, "the F16 matrices load stored")
        var lines: [String] = []
        let r = try Bench.run(norms, B: 2, T: 8, reps: 2, train: .norms) { lines.append($0) }
        XCTAssertEqual(stored(norms), norms.model.linears.count, "training only norms leaves matrices stored")
        XCTAssertEqual(lines.filter { $0.contains("(sgemm before it:") }.count, 6, lines.joined(separator: "\n"))

        let all = try ModelStore.load(dir)
        let s = try Bench.run(all, B: 2, T: 8, reps: 2, train: .all) { _ in }
        XCTAssertEqual(stored(all), 0, "training every parameter holds fp32 values")
        for b in [r, s] {
            XCTAssertEqual(b.blas_core, Blas.coreName, "the kernels that set sgemm's rate are recorded")
            let gemm = try XCTUnwrap(b.gemm_gflops), f = try XCTUnwrap(b.forward_fraction_of_gemm)
            XCTAssertGreaterThan(gemm, 0)
            XCTAssertGreaterThan(f, 0)
            XCTAssertGreaterThan(try XCTUnwrap(b.forward_backward_fraction_of_gemm), 0)
        }
    }
}
