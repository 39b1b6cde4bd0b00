import Engine
import Foundation
import PluginHost
import Support

/// The EXAMPLES section of a command's help.
func examples(_ lines: String...) -> String {
    "EXAMPLES:\n" + lines.map { "  " + $0 }.joined(separator: "\n")
}

/// What the exit status means, for every command (README: Commands).
let exitCodes = """
    EXIT STATUS: 0 done; 1 an error (the message on stderr names the file, line or option); 2 `run` \
    finished early because the method failed or produced non-finite numbers (its results file records \
    why); 64 a usage error (a flag or value that makes no sense); 130 / 143 stopped by Ctrl-C / SIGTERM.
    """

/// `canonedit --version`: the version, the commit it was built from (read from the checkout it
/// runs in), the plugin ABI and OpenBLAS's core and threads.
enum VersionText {
    static let version = "0.3.0"

    static var text: String {
        "canonedit \(version) (commit \(commit ?? "unknown"), plugin ABI \(PluginABI.version), OpenBLAS "
            + "\(Blas.coreName) with \(Blas.threads) threads)"
    }

    /// HEAD of the git checkout holding the executable, if it runs from one.
    static var commit: String? {
        var dir = URL(fileURLWithPath: HostPaths.folder)
        for _ in 0..<8 {
            let git = dir.appendingPathComponent(".git").path
            if let head = try? String(contentsOfFile: git + "/HEAD", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            {
                guard head.hasPrefix("ref: ") else { return String(head.prefix(12)) }
                let ref = String(head.dropFirst(5))
                if let sha = try? String(contentsOfFile: git + "/" + ref, encoding: .utf8) {
                    return String(sha.prefix(12))
                }
                let packed = (try? String(contentsOfFile: git + "/packed-refs", encoding: .utf8)) ?? ""
                return packed.split(separator: "\n").first { $0.hasSuffix(" " + ref) }.map { String($0.prefix(12)) }
            }
            dir.deleteLastPathComponent()
        }
        return nil
    }
}
