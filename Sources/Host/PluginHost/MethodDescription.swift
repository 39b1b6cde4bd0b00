import Engine
import Foundation
import PluginAPI
import Support

/// A model as a plugin's `describe` sees it: names and sizes, no values.
public struct OutlineModel {
    public var architecture: String
    public var layers: Int, hidden: Int, vocab: Int, context: Int
    /// Every parameter with its element count and the block it belongs to: -1 for the
    /// embeddings below the blocks, `layers` for the final norm and head above them.
    public var parameters: [(name: String, count: Int, layer: Int)]
    public var modules: [(name: String, layer: Int, out: Int, in: Int)]

    public init(recipe r: DecoderRecipe) {
        let s = r.spec
        (architecture, layers, hidden, vocab, context) = (s.architecture, s.L, s.C, s.V, s.context)
        modules = r.linearModules
        let prefixes = (0..<s.L).map { r.names.layer($0) }
        let below = Set([r.names.embed, r.names.positions].compactMap { $0 })
        parameters = r.parameterSizes.map { p in
            (p.name, p.count, prefixes.lastIndex { p.name.hasPrefix($0) } ?? (below.contains(p.name) ? -1 : s.L))
        }
    }

    /// A loaded model, for validating an edit file against it (names and sizes; the blocks of
    /// parameters are not needed there and are left out).
    public init(model m: CausalLM) {
        (architecture, layers, vocab, context) = (m.architecture, m.layerCount, m.vocabSize, m.contextLength)
        hidden = m.parameters.first?.value.cols ?? 0
        parameters = m.parameters.map { ($0.name, $0.value.count, -1) }
        modules = m.linears.map { ($0.name, -1, $0.outFeatures, $0.inFeatures) }
    }
}

/// What a method says it will do before it runs (ABI 1.3's `describe`), in the host's terms.
public struct MethodDescription {
    /// Elements of model tensors trained whole: fp32 value, original, gradient, Adam's two moments.
    public var trainedElements = 0
    /// Adapter and plugin-owned trained elements: value, gradient, Adam's two moments.
    public var adapterElements = 0
    /// The lowest block a backward pass reaches (-1: into the embedding; `layers`: none).
    public var lowestBlock: Int
    /// Passes of the method's own, as (rows, tokens).
    public var passes: [(B: Int, T: Int)] = []
    /// Memory the method holds itself at its peak.
    public var held: [(bytes: Int, what: String)] = []
    /// Regular expressions over parameter names that an edit of the method may change directly.
    public var mayChange: [String] = []
    /// False when the plugin has no `describe`: the description is the conservative one.
    public var described = true
    /// `mayChange` compiled, each pattern once: edit validation asks about every tensor of an edit.
    private let compiled = FullMatchPatterns()

    /// The conservative description of a plugin that cannot describe itself: every parameter
    /// trained whole, backward passes into the embedding.
    static func conservative(_ m: OutlineModel) -> MethodDescription {
        var d = MethodDescription(lowestBlock: -1)
        d.trainedElements = m.parameters.reduce(0) { $0 + $1.count }
        d.described = false
        return d
    }

    /// Whether an edit of the method may change `name` directly.
    public func allowsChanging(_ name: String) -> Bool {
        mayChange.contains { p in compiled.regex(p).map { FullMatchPatterns.matches($0, name) } ?? false }
    }
}

/// What a plan knows of the run besides the model: the canonical examples.
public struct OutlineRun {
    public var examples: Int, longestExample: Int, sequential: Bool
    public init(examples: Int, longestExample: Int, sequential: Bool) {
        (self.examples, self.longestExample, self.sequential) = (examples, longestExample, sequential)
    }
}

extension PluginLibrary {
    /// Whether the plugin has ABI 1.3's `describe`.
    public var describes: Bool { descriptor.pointee.describe != nil }

    /// The plugin's own account of what it will do with `options` on `model`; the conservative
    /// one (with `described` false) when it has no `describe`.
    public func describe(
        model: OutlineModel, options: [String: PluginOption], run: OutlineRun
    ) throws -> MethodDescription {
        guard let describe = descriptor.pointee.describe else { return .conservative(model) }
        let state = OutlineState(model: model, options: options, run: run)
        var table = OutlineState.table
        table.ctx = Unmanaged.passUnretained(state).toOpaque()
        let status = withExtendedLifetime(state) { withUnsafePointer(to: &table) { describe($0) } }
        guard status == CE_OK else {
            throw CanonEditError("plugin \(id) \(version) failed in describe: \(state.error ?? "status \(status)")")
        }
        return state.description
    }

    /// The learning-rate range random sweeps draw from, as exponents of 10 (nil: not given).
    public var learningRateSweep: ClosedRange<Double>? {
        let d = descriptor.pointee
        guard d.learning_rate_sweep_min > 0, d.learning_rate_sweep_max >= d.learning_rate_sweep_min else { return nil }
        return log10(d.learning_rate_sweep_min)...log10(d.learning_rate_sweep_max)
    }
}
