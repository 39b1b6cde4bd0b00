import Foundation

/// Regular expressions matched against whole names (Python's re.fullmatch), each compiled once.
final class FullMatchPatterns {
    private var cache: [String: NSRegularExpression] = [:]

    /// The compiled pattern, or nil when it is not a valid regular expression.
    func regex(_ pattern: String) -> NSRegularExpression? {
        if let r = cache[pattern] { return r }
        guard let r = try? NSRegularExpression(pattern: "^(?:" + pattern + ")$") else { return nil }
        cache[pattern] = r
        return r
    }

    static func matches(_ r: NSRegularExpression, _ name: String) -> Bool {
        r.firstMatch(in: name, range: NSRange(name.startIndex..., in: name)) != nil
    }
}
