import Dispatch
import Foundation

/// Ctrl-C (SIGINT) or SIGTERM asks long work to stop at its next check (between training
/// examples, between documents); the last finished epoch's records and checkpoint stay on disk,
/// and the run resumes from there. Work that reaches no check within `grace` seconds (loading,
/// parsing, one long evaluation) is ended then: every file canonedit writes is written whole
/// or not at all, so nothing is left half-written.
public enum Cancellation {
    /// The signal that asked to stop (0: none).
    nonisolated(unsafe) public static var requested: Int32 = 0
    nonisolated(unsafe) static var sources: [DispatchSourceSignal] = []
    public static let grace = 2.0

    public static func install() {
        guard sources.isEmpty else { return }
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                requested = sig
                DispatchQueue.global().asyncAfter(deadline: .now() + grace) {
                    FileHandle.standardError.write(
                        Data("canonedit: stopped by signal \(sig); run the same command again to resume\n".utf8))
                    _exit(128 + sig)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    public static var isRequested: Bool { requested != 0 }

    /// The documented exit status after a stop: 128 + the signal (130 for Ctrl-C, 143 for SIGTERM).
    public static var exitStatus: Int32 { 128 + (requested > 0 ? requested : SIGINT) }

    public static func check() throws {
        if requested != 0 {
            throw CanonEditError("interrupted; run the same command again to resume after the last finished epoch")
        }
    }
}
