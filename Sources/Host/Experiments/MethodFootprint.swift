import Engine
import Foundation
import PluginHost
import Support

/// What a method will train and hold, as the plugin's own `describe` says before it runs. A
/// plugin without `describe` is planned as if it trained every parameter, and the plan says so.
struct MethodFootprint {
    /// Elements of model tensors trained whole: fp32 value, original, gradient, Adam's two moments.
    var trainedElements = 0
    /// Adapter elements: value, gradient, Adam's two moments.
    var adapterElements = 0
    /// The lowest block a backward pass goes through (-1: into the embedding; L: none).
    var lowestBlock: Int
    /// Extra training passes the method runs itself (MEMIT's target optimisation, CondFT's paraphrases).
    var extraPasses: [(B: Int, T: Int)] = []
    /// False for a closed-form method: no training passes over the canonical examples or KL
    /// documents, only its own (`extraPasses`).
    var trainsOnData = true
    /// Memory the method itself holds at its peak, with what it is.
    var own: [(bytes: Int, what: String)] = []
    /// Set when the plan had to guess.
    var unknown: String? = nil

    init(plugin: PluginLibrary, options: [String: PluginOption], recipe r: DecoderRecipe, passes: MemoryPlan.Passes)
        throws
    {
        let run = OutlineRun(
            examples: passes.examples, longestExample: passes.longestExample, sequential: passes.sequential)
        let d = try plugin.describe(model: OutlineModel(recipe: r), options: options, run: run)
        (trainedElements, adapterElements, lowestBlock) = (d.trainedElements, d.adapterElements, d.lowestBlock)
        (extraPasses, own) = (d.passes, d.held)
        trainsOnData = plugin.trains
        if !d.described {
            unknown =
                "plugin \(plugin.id) does not describe itself (ABI 1.3's describe): planned as if it trained every "
                + "parameter"
        }
    }
}
