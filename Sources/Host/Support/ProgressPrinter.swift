import Foundation

/// Progress on stderr. A transient line (the current example, document or shard) is redrawn in
/// place on a terminal and printed as a plain line otherwise; a lasting line first clears a
/// transient one, so a terminal shows the lasting lines and one line that moves.
public enum ProgressPrinter {
    nonisolated(unsafe) static var pending = false
    public static let isTerminal = isatty(STDERR_FILENO) == 1

    public static func line(_ s: String) {
        write((pending && isTerminal ? "\r\u{1B}[K" : "") + s + "\n")
        pending = false
    }

    public static func transient(_ s: String) {
        guard isTerminal else { return line(s) }
        write("\r\u{1B}[K" + s)
        pending = true
    }

    static func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
