import Foundation
import TestSupport
import XCTest

@testable import Engine
@testable import Support

/// Sizes no model has, in a config.json, end in an error naming the file and the size; none
/// divides by zero, ranges below zero or overflows a product (each of these trapped before).
final class CraftedModelConfigTests: XCTestCase {
    func load(_ arch: String, _ change: (inout [String: Any]) -> Void) throws -> Error? {
        let dir = temporaryFolder(self) + "/model"
        try FileManager.default.copyItem(atPath: Fixtures.folder + "/zoo/\(arch)", toPath: dir)
        let cfg = dir + "/config.json"
        var obj = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cfg))) as! [String: Any]
        change(&obj)
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: cfg))
        do { _ = try ModelStore.outline(dir) } catch { return error }
        return nil
    }

    func testImpossibleSizesAreRefusedByName() throws {
        let cases: [(String, (inout [String: Any]) -> Void, String)] = [
            (
                "llama",
                {
                    $0["num_attention_heads"] = 0; $0["head_dim"] = nil
                }, "attention heads is 0"
            ),
            (
                "gemma3",
                {
                    $0["num_hidden_layers"] = -1; $0["layer_types"] = nil
                }, "layer_types must name"
            ),
            ("qwen2", { $0["vocab_size"] = 1 << 40 }, "vocabulary size is 1099511627776"),
            (
                "llama",
                {
                    $0["intermediate_size"] = 1 << 30; $0["hidden_size"] = 1 << 12
                }, "more than 2^40"
            ),
            ("llama", { $0["num_key_value_heads"] = 3 }, "do not group into 3 key/value heads"),
            (
                "llama31",
                {
                    var s = $0["rope_parameters"] as! [String: Any]
                    s["factor"] = 0
                    $0["rope_parameters"] = s
                }, "factor is 0.0; it must be a positive number"
            ),
        ]
        for (arch, change, message) in cases {
            let error = try load(arch, change)
            XCTAssertNotNil(error, "\(arch): \(message)")
            if let error {
                XCTAssertTrue("\(error)".contains(message) && "\(error)".contains("config.json"), "\(error)")
            }
        }
    }
}
