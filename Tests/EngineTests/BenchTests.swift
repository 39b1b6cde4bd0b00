import XCTest

@testable import Engine

/// The figures `bench` and `run` report that come from /proc.
final class BenchTests: XCTestCase {
    /// /proc lines put a tab and no space before a number of eight digits (10 GB and up).
    func testProcLinesAreReadWithTabs() {
        XCTAssertEqual(Bench.kilobytes("VmHWM:\t11779264 kB"), 11_779_264)
        XCTAssertEqual(Bench.kilobytes("VmHWM:\t  795648 kB"), 795_648)
        XCTAssertEqual(Bench.kilobytes("MemAvailable:   23411328 kB"), 23_411_328)
        XCTAssertGreaterThan(Bench.peakResidentBytes(), 1 << 20)
    }
}
