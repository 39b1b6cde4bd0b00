// What a locate-and-edit method describes before it runs (ABI 1.3's describe), the same for
// MEMIT, ROME and AlphaEdit but for the layers they edit and the matrices they hold.
import PluginAPI
import PluginKit

/// Describes an edit of the MLP output projections of `layers`: each (C, F) edited matrix with
/// its original, plus `working(F)` bytes of the method's own (key statistics, solves); the target
/// search runs one random prefix + example at a time, backward down to the last (critical) layer.
public func describeLocateEdit(
    _ o: Outline, layers: [Int], holding what: String, working: (_ F: Int) -> Int
) throws {
    let C = Int(try o.modelInfo().hidden_size)
    let F = try o.modules.first { try o.matches($0.name, layerMLPOutput(layers[0])) }?.in ?? 4 * C
    try o.willHold(layers.count * 2 * C * F * 4 + working(F), what)
    try o.willRun(
        rows: 1, tokens: Int(try o.number("context_length")) + o.longestExample, lowestLayer: layers.last!)
    for l in layers { try o.mayChange(layerMLPOutput(l) + "\\.weight") }
}
