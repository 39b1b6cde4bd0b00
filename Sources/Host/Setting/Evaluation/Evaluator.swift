import Engine
import Foundation
import Support

/// Everything measured after each epoch.
public struct Evaluator {
    public let intervention: InterventionSet
    public let general: TextSet
    public let targeted: TextSet?
    public let hardNegative: HardNegativeSet?
    /// The canonical examples themselves (efficacy) and unrelated prompts (locality).
    public var edits: InterventionSet?
    public var locality: LocalityPrompts?

    public init(
        intervention: InterventionSet, general: TextSet, targeted: TextSet?, hardNegative: HardNegativeSet?,
        edits: InterventionSet? = nil, locality: LocalityPrompts? = nil
    ) {
        self.intervention = intervention
        self.general = general
        self.targeted = targeted
        self.hardNegative = hardNegative
        self.edits = edits
        self.locality = locality
    }

    public func evaluate(_ model: CausalLM) throws -> EpochFigures {
        var f = EpochFigures(
            intervention: try intervention.failureRate(model), general: try general.meanNLL(model),
            rest_of_prompt: try targeted?.meanNLL(model), hard_negative: try hardNegative?.score(model))
        f.efficacy = try edits.map { 1 - (try $0.failureRate(model)) }
        f.locality = try locality?.unchangedShare(model)
        if let e = f.efficacy, let l = f.locality {
            let parts = [e, f.success, l]
            f.edit_score = parts.contains(0) ? 0 : 3 / parts.reduce(0) { $0 + 1 / $1 }
        }
        return f
    }
}
