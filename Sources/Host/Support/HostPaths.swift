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

    /// The checkout the executable was built in: the nearest folder above it (at most five
    /// levels, .build/release/ and the like) holding `configs/` and `data/builtin/`. It is
    /// where shipped configs, presets and the built-in data are found from any working folder.
    public static var checkout: String? {
        var dir = folder as NSString
        for _ in 0..<5 {
            dir = dir.deletingLastPathComponent as NSString
            let d = dir as String
            let fm = FileManager.default
            if fm.fileExists(atPath: d + "/configs") && fm.fileExists(atPath: d + "/data/builtin") { return d }
        }
        return nil
    }
}
