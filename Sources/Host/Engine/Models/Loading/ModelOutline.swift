import Foundation
import Support

/// A model as its files describe it, before any weight is read: the tokenizer, the decoder's
/// recipe (nil for a Backpack or companion), how many parameters there are and how many bytes
/// the weights will hold. A memory plan is made from this; `load()` then reads the weights.
public struct ModelOutline {
    public let path: String
    public let tokenizer: Tokenizer?
    public let decoder: DecoderRecipe?
    public let parameterCount: Int
    /// Bytes the weights hold once loaded: stored matrices as they are, the rest as fp32.
    public let weightBytes: Int
    let build: () throws -> LoadedModel

    /// Reads the weights, after checking they fit in the memory available now.
    public func load() throws -> LoadedModel {
        try ModelStore.checkMemory(parameters: parameterCount, bytes: weightBytes, path: path)
        return try build()
    }
}
