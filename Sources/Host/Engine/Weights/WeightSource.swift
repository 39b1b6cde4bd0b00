import Foundation
import Support

/// A named store of tensors: a GGUF file, a safetensors file or a sharded checkpoint.
/// Shapes are in PyTorch order (slowest dimension first): a Linear weight is (out, in).
public protocol WeightSource: AnyObject {
    var path: String { get }
    var tensorNames: [String] { get }
    func shape(of name: String) -> [Int]?
    /// Decodes the tensor to fp32 into `into`, whose shape must equal the stored one.
    func load(_ name: String, into: Tensor) throws
}

extension WeightSource {
    public func has(_ name: String) -> Bool { shape(of: name) != nil }

    /// Loads a tensor that must exist with exactly `shape`.
    public func tensor(_ name: String, shape expected: [Int]) throws -> Tensor {
        guard let s = shape(of: name) else {
            throw CanonEditError("\(path): tensor \(name) is missing (expected shape \(expected))")
        }
        guard s == expected else {
            throw CanonEditError("\(path): tensor \(name) has shape \(s) but the config implies \(expected)")
        }
        let t = Tensor(expected)
        try load(name, into: t)
        return t
    }
}
