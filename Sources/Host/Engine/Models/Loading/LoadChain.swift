import Foundation
import Support

/// The models being loaded on this thread, outermost first: an ensemble spec loads its members
/// and a companion its base, so a file that names itself (directly or through another) would
/// recurse until the stack overflows. Each such load goes through `enter`, which refuses a
/// model already on the chain.
public enum LoadChain {
    static let key = "canonedit.LoadChain"

    /// Runs `body` with `path` on the chain; an error names the cycle.
    public static func enter<T>(_ path: String, _ body: () throws -> T) throws -> T {
        let id = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        let thread = Thread.current.threadDictionary
        let chain = thread[key] as? [String] ?? []
        if let i = chain.firstIndex(of: id) {
            throw CanonEditError("\(path): the model names itself (\((chain[i...] + [id]).joined(separator: " → ")))")
        }
        thread[key] = chain + [id]
        defer { thread[key] = chain }
        return try body()
    }
}
