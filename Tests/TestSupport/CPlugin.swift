import Foundation
import Support
import XCTest

/// Compiles Examples/c-plugin/norm_tune.c with the system C compiler against the header alone.
public func buildCPlugin(_ test: XCTestCase, defines: [String] = [], name: String = "libnorm_tune.so") throws -> String
{
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    let out = temporaryFolder(test) + "/" + name
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments =
        [
            "cc", "-O2", "-Wall", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden", "-I",
            root + "/Sources/PluginAPI/include",
        ]
        + defines.map { "-D" + $0 } + [root + "/Examples/c-plugin/norm_tune.c", "-o", out]
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw CanonEditError("cc failed for norm_tune.c (\(defines))") }
    return out
}
