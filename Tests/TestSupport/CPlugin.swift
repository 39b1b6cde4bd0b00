import Foundation
import Support
import XCTest

/// The repository's root folder.
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// Compiles a C plugin with the system C compiler against a plugin header folder alone: by
/// default Examples/c-plugin/norm_tune.c against Sources/PluginAPI/include. Returns the library.
public func buildCPlugin(
    _ test: XCTestCase, defines: [String] = [], name: String = "libnorm_tune.so",
    source: String = repositoryRoot + "/Examples/c-plugin/norm_tune.c",
    include: String = repositoryRoot + "/Sources/PluginAPI/include"
) throws -> String {
    let out = temporaryFolder(test) + "/" + name
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments =
        ["cc", "-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden", "-I", include]
        + defines.map { "-D" + $0 } + [source, "-o", out]
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw CanonEditError("cc failed for \((source as NSString).lastPathComponent) (\(defines))")
    }
    return out
}

/// The test plugin that misbehaves on purpose (Fixtures/c-plugins/probe.c), built with `defines`.
public func buildProbePlugin(_ test: XCTestCase, defines: [String] = []) throws -> String {
    try buildCPlugin(
        test, defines: defines, name: "libprobe.so", source: Fixtures.folder + "/c-plugins/probe.c")
}
