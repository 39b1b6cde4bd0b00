import Engine
import Foundation
import Support
import Yams

/// YAML as canonedit reads it: every document is checked against limits first, so a small
/// file cannot ask for unbounded work (an alias "bomb" whose anchors expand exponentially).
public enum YAMLBridge {
    public static let maxBytes = 4 << 20
    /// Nodes after expanding aliases: far more than any config needs.
    public static let maxNodes = 100_000
    public static let maxDepth = 64

    /// YAML text to plain Foundation values (for specs that are not Codable structs).
    static func load(_ text: String, path: String) throws -> Any {
        try checkLimits(text, path: path)
        do { return try Yams.load(yaml: text) ?? [:] } catch {
            throw CanonEditError("\(path): not valid YAML (\(error))")
        }
    }

    /// Throws when `text` is larger, deeper or (with its aliases expanded) bigger than the limits,
    /// or has a mapping key that is not a plain value.
    public static func checkLimits(_ text: String, path: String) throws {
        guard text.utf8.count <= maxBytes else {
            throw CanonEditError("\(path): \(text.utf8.count) bytes; a YAML file here may have at most \(maxBytes)")
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw CanonEditError("\(path): not valid YAML (\(error))")
        }
        guard let root else { return }
        var budget = maxNodes
        try walk(root, depth: 0, budget: &budget, path: path)
    }

    static func walk(_ node: Node, depth: Int, budget: inout Int, path: String) throws {
        budget -= 1
        guard budget >= 0 else {
            throw CanonEditError(
                "\(path): more than \(maxNodes) values once its aliases are expanded (an alias bomb?); refused")
        }
        guard depth <= maxDepth else { throw CanonEditError("\(path): nested deeper than \(maxDepth) levels") }
        if let m = node.mapping {
            for (k, v) in m {
                // Yams traps constructing a mapping whose key is a list or mapping: refuse it here.
                guard k.scalar != nil else {
                    let at = k.mark.map { " at line \($0.line)" } ?? ""
                    throw CanonEditError("\(path): a mapping key\(at) is a list or mapping; keys must be plain values")
                }
                try walk(k, depth: depth + 1, budget: &budget, path: path)
                try walk(v, depth: depth + 1, budget: &budget, path: path)
            }
        } else if let s = node.sequence {
            for v in s { try walk(v, depth: depth + 1, budget: &budget, path: path) }
        }
    }
}
