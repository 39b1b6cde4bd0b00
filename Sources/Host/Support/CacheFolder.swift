import Foundation

/// Where canonedit keeps what it can compute again (key statistics, model digests):
/// `$CANONEDIT_CACHE`, else `cache/` in the working folder.
public enum CacheFolder {
    public static var path: String {
        ProcessInfo.processInfo.environment["CANONEDIT_CACHE"] ?? FileManager.default.currentDirectoryPath + "/cache"
    }
}
