import Engine
import Experiments
import Foundation
import PluginHost
import Setting
import Support
import XCTest

/// Test fixtures live beside this file; the real model is found the way the CLI finds it.
public enum Fixtures {
    public static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Fixtures"
    ).path

    public static func json(_ name: String) throws -> Any {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
        return try JSONSerialization.jsonObject(with: data)
    }

    /// Reads a little-endian float32 .npy array (C order).
    public static func npy(_ name: String) throws -> (shape: [Int], values: [Float]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + name))
        let headerLen = Int(data[8]) | Int(data[9]) << 8
        let header = String(decoding: data[10..<(10 + headerLen)], as: UTF8.self)
        guard header.contains("'<f4'") else { throw CanonEditError("\(name): not float32") }
        let shapeText = header.components(separatedBy: "'shape': (")[1].components(separatedBy: ")")[0]
        let shape = shapeText.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let body = data[(10 + headerLen)...]
        let values = body.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        return (shape, values)
    }

    /// SmolLM2, loaded once for the whole test run. The README's set-up installs it; a missing
    /// model is a failure (CI installs it), not a skip.
    public nonisolated(unsafe) static var smolCache: LoadedModel?
    public static func smollm2() throws -> LoadedModel {
        if let m = smolCache { return m }
        let m = try ModelStore.load("smollm2")
        smolCache = m
        return m
    }

    /// Gemma 3 270M, loaded once, the same way (scripts/setup.sh installs it).
    public nonisolated(unsafe) static var gemmaCache: LoadedModel?
    public static func gemma3() throws -> LoadedModel {
        if let m = gemmaCache { return m }
        let m = try ModelStore.load("gemma3")
        gemmaCache = m
        return m
    }
}

/// A fresh folder under the temporary directory, removed at the end of the test.
public func temporaryFolder(_ test: XCTestCase) -> String {
    let dir = NSTemporaryDirectory() + "canonedit-test-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
    return dir
}

public func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "\(a.count) vs \(b.count)")
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a[i] - b[i])) }
    return m
}

public func randomArray(_ n: Int, _ rng: inout SeededRandom, scale: Float = 1) -> [Float] {
    (0..<n).map { _ in Float(rng.normal()) * scale }
}

/// The canonedit executable the build puts beside the test bundle. Processes started from here
/// on run their products on the kernels this process uses (CANONEDIT_BLAS_CORE), so their
/// numbers compare bit for bit.
public func canoneditExecutable() -> String {
    setenv("CANONEDIT_BLAS_CORE", Blas.coreName, 1)
    return HostPaths.folder + "/canonedit"
}

/// Runs the canonedit executable built beside the tests with `args` (in `folder` when given) and
/// returns its exit status, stdout and stderr (both read as they come, so neither pipe fills).
public func runCanonedit(_ args: [String], in folder: String? = nil) throws -> (status: Int32, out: String, err: String)
{
    let p = Process()
    p.executableURL = URL(fileURLWithPath: canoneditExecutable())
    p.arguments = args
    if let folder { p.currentDirectoryURL = URL(fileURLWithPath: folder) }
    let out = Pipe(), err = Pipe()
    (p.standardOutput, p.standardError) = (out, err)
    try p.run()
    nonisolated(unsafe) var e = Data()
    let done = DispatchSemaphore(value: 0)
    Thread {
        e = err.fileHandleForReading.readDataToEndOfFile()
        done.signal()
    }.start()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
}
