// The options the locate-and-edit methods share, in one order, so that MEMIT, ROME and
// AlphaEdit read them the same way (TargetSearch) and describe them the same way.
import PluginAPI
import PluginKit

/// `layers`, then the target search's options, the method's own (after the clamp), the key
/// statistics' options and the random prefixes'.
public func locateEditHyperparameters(
    layersHelp: StaticString, steps: Double, lr: Double, clamp: Double, clampSweep: ClosedRange<Double>,
    method: [ce_hyperparameter], statistics: [ce_hyperparameter], templates: Double
) -> [ce_hyperparameter] {
    [
        hyperparameter("layers", CE_HP_STRING, defaultString: "", noSweep: true, help: layersHelp),
        hyperparameter(
            "subject", CE_HP_STRING, defaultString: "prefix", noSweep: true,
            help: "prefix (the whole canonical prefix is the subject, MEMIT_p) or oracle (the record's subject field)"),
        hyperparameter(
            "v_num_grad_steps", CE_HP_INT, min: 1, max: 1000, default: steps, noSweep: true,
            help: "steps optimising the target"),
        hyperparameter(
            "v_lr", CE_HP_FLOAT, min: 1e-5, max: 10, default: lr, noSweep: true,
            help: "Adam learning rate of the target vector"),
        hyperparameter(
            "v_weight_decay", CE_HP_FLOAT, min: 0, max: 100, default: 0.5, noSweep: true,
            help: "weight of ‖δ‖² / ‖h‖²"),
        hyperparameter(
            "clamp_norm_factor", CE_HP_FLOAT, min: 1e-3, max: 100, default: clamp, sweep: clampSweep, logScale: true,
            help: "‖δ‖ is kept at most this times ‖h‖"),
    ] + method + [
        hyperparameter(
            "kl_factor", CE_HP_FLOAT, min: 0, max: 10, default: 0.0625, sweep: 0.001...0.1,
            help: "weight of KL(unedited ‖ edited) at the subject's last token"),
        hyperparameter(
            "mom2_corpus", CE_HP_STRING, defaultString: "", noSweep: true,
            help: "{\"text\"} JSONL for the key statistics (required)"),
        hyperparameter(
            "mom2_tokens", CE_HP_INT, min: 1, max: 1e9, default: 100000, noSweep: true,
            help: "tokens of that corpus to use"),
    ] + statistics + [
        hyperparameter(
            "context_templates", CE_HP_INT, min: 0, max: 64, default: templates, noSweep: true,
            help: "random prefixes per edit"),
        hyperparameter(
            "context_length", CE_HP_INT, min: 1, max: 256, default: 10, noSweep: true,
            help: "tokens per random prefix"),
    ]
}

/// The ridge option MEMIT and ROME take on the key statistics.
public let ridgeHyperparameter = hyperparameter(
    "mom2_ridge", CE_HP_FLOAT, min: 0, max: 1, default: 0, noSweep: true,
    help: "ridge: this share of the keys' mean square added to the diagonal (0: as published)")

/// The key statistics' corpus and token count, with the error a method without one gives.
public func statisticsCorpus(_ host: Host, method: String) throws -> (corpus: String, tokens: Int) {
    let corpus = try host.string("mom2_corpus")
    if corpus.isEmpty { throw PluginError(CE_ERR_INVALID_ARGUMENT, "\(method) needs mom2_corpus") }
    return (corpus, Int(try host.number("mom2_tokens")))
}

/// Adds `ridge` times the diagonal's mean to the diagonal of A (F, F): fewer statistics tokens
/// than the MLP is wide leave the second moment singular.
public func addRidge(_ A: inout [Float], features F: Int, ridge: Double) {
    guard ridge > 0 else { return }
    let mean = (0..<F).reduce(0.0) { $0 + Double(A[$1 * F + $1]) } / Double(F)
    for i in 0..<F { A[i * F + i] += Float(ridge * mean) }
}
