import Engine
import Foundation
import Support
import Yams

/// YAML text to plain Foundation values (for specs that are not Codable structs).
enum YAMLBridge {
    static func load(_ text: String, path: String) throws -> Any {
        do { return try Yams.load(yaml: text) ?? [:] } catch {
            throw CanonEditError("\(path): not valid YAML (\(error))")
        }
    }
}
