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

    /// A config from YAML text (written by the tool itself), checked as a file's would be.
    public static func parse(_ text: String, path: String) throws -> ExperimentConfig {
        var cfg: ExperimentConfig
        do { cfg = try YAMLDecoder().decode(ExperimentConfig.self, from: text) } catch let e as DecodingError {
            throw CanonEditError("\(path): \(describe(e))")
        }
        _ = try ConfigKeys.check(text, path: path)
        try cfg.validate(path, text: text)
        _ = cfg.fillIn(path)
        return cfg
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

extension YAMLValue {
    /// The value on one line of YAML: JSON's spelling, which YAML reads the same way.
    public var yamlInline: String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? enc.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}
