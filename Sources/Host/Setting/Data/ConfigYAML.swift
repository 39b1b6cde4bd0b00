import Foundation
import Support
import Yams

extension ExperimentConfig {
    /// The config as YAML in the authors' schema, keys sorted (what sweeps and `select` write).
    /// Numbers keep every digit: Yams writes some doubles with 15 significant digits, which
    /// would turn the country task's threshold 1.6094379124341003 into 1.6094379124341.
    public func yamlText() throws -> String {
        let tree = try JSONDecoder().decode(YAMLValue.self, from: JSONEncoder().encode(self))
        return try Yams.serialize(node: Self.node(tree), sortKeys: true)
    }

    static func node(_ v: YAMLValue) -> Node {
        switch v {
        case .int(let i): return Node(String(i), Tag(.int))
        case .double(let d):
            // Shortest text that reads back as the same double, with the dot YAML 1.1 floats need.
            var text = "\(d)"
            if !text.contains("."), let e = text.firstIndex(of: "e") { text.insert(contentsOf: ".0", at: e) }
            return Node(text, Tag(.float))
        case .bool(let b): return Node(b ? "true" : "false", Tag(.bool))
        case .string(let s): return Node(s, Tag(.str))
        case .list(let items): return Node(items.map(node))
        case .map(let m): return Node(m.keys.sorted().map { (Node($0, Tag(.str)), node(m[$0]!)) })
        case .null: return Node("null", Tag(.null))
        }
    }
}
