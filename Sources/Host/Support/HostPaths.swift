import Foundation

/// Where this process runs from. The build puts the canonedit executable, the shipped plugins
/// and the test bundle in one folder, so each finds the others here.
public enum HostPaths {
    /// The running executable (from /proc/self/exe, else argv[0]).
    public static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// The folder holding the running executable.
    public static var folder: String { (executable as NSString).deletingLastPathComponent }
}
