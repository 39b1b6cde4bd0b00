import Engine
import Foundation
import Support

/// Figures measured on a model after each epoch (the authors' `trainer.py`). `intervention` is the
/// failure rate (lower is better), as in the authors' logs; `success` = 1 − intervention.
public struct EpochFigures: Codable, Equatable {
    public var intervention: Double
    public var general: Double
    public var rest_of_prompt: Double?  // targeted degradation
    public var hard_negative: Double?
    public var train_loss: Double?
    /// The edit-score metrics of Gangadhar & Stratos: success on the edit prompts themselves,
    /// success on paraphrases (= success), the share of unrelated prompts (the hard negatives'
    /// prefixes) whose greedy next token is unchanged, and the harmonic mean of the three.
    public var efficacy: Double?
    public var locality: Double?
    public var edit_score: Double?
    /// The second scoring protocol: the share of evaluation examples whose greedy continuation
    /// begins with the target (does not, for `bad`); nil for `balance` (Evaluator).
    public var greedy_success: Double?
    public var success: Double { 1 - intervention }
}
