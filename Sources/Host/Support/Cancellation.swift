import Foundation

/// Ctrl-C (SIGINT) or SIGTERM asks long work to stop at its next check; the last finished
/// epoch's records and checkpoint stay on disk, and the run resumes from there.
public enum Cancellation {
    nonisolated(unsafe) public static var requested: Int32 = 0
    public static func install() {
        signal(SIGINT) { _ in Cancellation.requested = 1 }
        signal(SIGTERM) { _ in Cancellation.requested = 1 }
    }
    public static var isRequested: Bool { requested != 0 }
    public static func check() throws {
        if requested != 0 {
            throw CanonEditError("interrupted; run the same command again to resume after the last finished epoch")
        }
    }
}
