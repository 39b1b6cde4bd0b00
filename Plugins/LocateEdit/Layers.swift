import PluginAPI
import PluginKit

/// The pattern of layer l's MLP output projection, the matrix the locate-and-edit methods
/// rewrite, across the architectures.
public func layerMLPOutput(_ l: Int) -> String {
    ".*\\.\(l)\\.mlp\\.(down_proj|c_proj|dense_4h_to_h|fc_out)"
}

/// Layers from "3-8" or "3,5,7"; empty: the share of depth GPT-J's default 3–8 of 28 covers.
public func parseLayers(_ text: String, count L: Int) throws -> [Int] {
    if text.isEmpty {
        let lo = Int((0.107 * Double(L)).rounded()), hi = max(lo, Int((0.286 * Double(L)).rounded()))
        return Array(lo...min(hi, L - 1))
    }
    var out: [Int] = []
    for part in text.split(separator: ",") {
        let ends = part.split(separator: "-").compactMap { Int($0.filter { $0 != " " }) }
        guard (1...2).contains(ends.count), let a = ends.first, let b = ends.last, a <= b else {
            throw PluginError(CE_ERR_INVALID_ARGUMENT, "layers \"\(text)\": write ranges like 3-8 or lists like 3,5,7")
        }
        out += Array(a...b)
    }
    guard out.allSatisfy({ $0 >= 0 && $0 < L }) else {
        throw PluginError(CE_ERR_INVALID_ARGUMENT, "layers \(out) are outside 0..<\(L)")
    }
    return Array(Set(out)).sorted()
}
