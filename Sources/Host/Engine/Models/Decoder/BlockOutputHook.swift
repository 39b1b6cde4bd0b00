import Foundation
import Support

/// Where the rows of one pass are: each row's real length (padding follows it) and its query
/// position, the last token of its prompt (-1 when the row has none, as in general text).
public struct RowLayout {
    public var lengths: [Int]
    public var queries: [Int]

    public init(lengths: [Int], queries: [Int]) {
        precondition(lengths.count == queries.count)
        self.lengths = lengths
        self.queries = queries
    }

    /// B rows of T real positions with no prompt.
    public static func unprompted(B: Int, T: Int) -> RowLayout {
        RowLayout(lengths: [Int](repeating: T, count: B), queries: [Int](repeating: -1, count: B))
    }
}

/// The rows a block-output hook sees: B rows of T positions each, the first at position
/// `start` (0 in a whole pass; the decoded position while generating), C channels.
public struct HookRows {
    public let layer: Int
    public let B: Int, T: Int, C: Int, start: Int
    public let layout: RowLayout
    /// A backward pass follows (the hook's input was saved for it).
    public let training: Bool
}

/// A method's intervention on the residual stream leaving one block (GRACE's codebook, ReFT),
/// part of the edited model: called in every forward pass of it (training, evaluation,
/// generation) and in the matching backward pass; never while the unedited model runs.
public protocol BlockOutputHook: AnyObject {
    var layer: Int { get }
    /// Has a backward pass (its method trains something through it).
    var trains: Bool { get }
    /// Rewrites x (B·T, C) in place.
    func forward(_ x: UnsafeMutablePointer<Float>, rows: HookRows) throws
    /// d (B·T, C): the gradient at the hook's output in, the gradient at its input out;
    /// `input` is what forward was given.
    func backward(_ d: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, rows: HookRows) throws
}

extension DecoderLM {
    /// The hooks on block l's output, in the order they were added (none while disabled).
    func outputHooks(at l: Int) -> [BlockOutputHook] {
        hooksEnabled ? blockHooks.filter { $0.layer == l } : []
    }

    /// Adds a hook; it runs from the next pass on.
    public func addHook(_ hook: BlockOutputHook) throws {
        guard hook.layer >= 0, hook.layer < spec.L else {
            throw CanonEditError("a hook on layer \(hook.layer): the model has layers 0..<\(spec.L)")
        }
        blockHooks.append(hook)
    }

    public func removeHooks() { blockHooks.removeAll() }
}
