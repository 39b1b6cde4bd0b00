import Foundation
import PluginAPI

/// Runs a loaded plugin as an EditMethod: builds the `ce_host` service table over an
/// EditSession, calls the plugin's functions and turns their status codes into errors.
public final class PluginMethod: EditMethod {
    public let library: PluginLibrary
    let options: [String: PluginOption]
    var bridge: PluginBridge?
    var instance: UnsafeMutableRawPointer?
    public var log: (String) -> Void = { FileHandle.standardError.write(($0 + "\n").data(using: .utf8)!) }

    public var id: String { library.id }

    public init(library: PluginLibrary, options: [String: PluginOption]) {
        self.library = library
        self.options = options
    }

    deinit {
        if let instance { library.descriptor.pointee.destroy(instance) }
    }

    func call(_ what: String, _ f: (UnsafePointer<ce_host>) -> ce_status) throws {
        guard let bridge else { throw CanonEditError("plugin \(id): \(what) before prepare") }
        bridge.error = nil
        let status = withUnsafePointer(to: &bridge.table) { f($0) }
        guard status == CE_OK else {
            let names: [Int32: String] = [CE_ERR_INVALID_ARGUMENT: "invalid argument", CE_ERR_NOT_FOUND: "not found",
                                          CE_ERR_UNSUPPORTED: "unsupported", CE_ERR_NUMERIC: "numeric error", CE_ERR_CANCELLED: "cancelled",
                                          CE_ERR_NO_MEMORY: "out of memory", CE_ERR_INTERNAL: "internal error"]
            let msg = bridge.error ?? "no message"
            throw PluginFailure(pluginID: id, what: what, status: status,
                                message: "plugin \(id) \(library.version) failed in \(what): \(names[status] ?? "status \(status)"): \(msg)")
        }
    }

    public func prepare(_ session: EditSession) throws {
        let b = PluginBridge(session: session, options: options, log: log)
        bridge = b
        let d = library.descriptor.pointee
        var inst: UnsafeMutableRawPointer? = nil
        try call("create") { d.create($0, &inst) }
        instance = inst
        if let prepare = d.prepare { try call("prepare") { prepare(inst, $0) } }
    }

    public var closedForm: Bool { library.closedForm && !library.trains }

    /// The closed-form edit. Afterwards nothing stays trainable and helper vectors are gone.
    public func apply(_ session: EditSession) throws {
        guard let apply = library.descriptor.pointee.apply else { return }
        try call("apply") { apply(instance, $0) }
        (session.model as? DecoderLM)?.residualDelta = nil
        session.model.setTrainable(false)
        for p in session.trained { p.requiresGrad = false; p.dropGrad() }
    }

    public func update(_ session: EditSession, learningRate: Double, step: Int) throws {
        guard let update = library.descriptor.pointee.update else { return }
        var info = ce_update_info(struct_size: UInt32(MemoryLayout<ce_update_info>.size), epoch: 0, epochs: 0, reserved: 0,
                                  step: Int64(step), learning_rate: learningRate)
        session.applyRowMasks()
        try call("update") { host in withUnsafePointer(to: &info) { update(instance, host, $0) } }
    }
}

/// A plugin returned an error; the run ends with this recorded and the host goes on.
public struct PluginFailure: Error, CustomStringConvertible {
    public let pluginID: String, what: String, status: Int32, message: String
    public var description: String { message }
}

/// The host state behind one plugin instance's `ce_host.ctx`.
final class PluginBridge {
    let session: EditSession
    let options: [String: PluginOption]
    let log: (String) -> Void
    var table = ce_host()
    var error: String?
    var handles: [Parameter] = []                       // ce_param* = index + 1
    var handleOf: [ObjectIdentifier: Int] = [:]
    var cStrings: [String: UnsafeMutablePointer<CChar>] = [:]
    var tokenCache: [Int: UnsafeMutablePointer<Int32>] = [:]
    var tokenCounts: [Int: Int] = [:]
    var allocations: Set<UnsafeMutableRawPointer> = []
    var regexCache: [String: NSRegularExpression] = [:]
    var corpora: [String: [UnsafeMutableBufferPointer<Int32>]] = [:]
    var backpackTable: UnsafeMutablePointer<ce_backpack_ext>?
    var activationsTable: UnsafeMutablePointer<ce_activations_ext>?
    var linalgTable: UnsafeMutablePointer<ce_linalg_ext>?

    init(session: EditSession, options: [String: PluginOption], log: @escaping (String) -> Void) {
        self.session = session
        self.options = options
        self.log = log
        table = Self.makeTable()
        table.ctx = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        for p in cStrings.values { free(p) }
        for p in tokenCache.values { p.deallocate() }
        for p in allocations { free(p) }
        for docs in corpora.values { for d in docs { d.deallocate() } }
        backpackTable?.deallocate()
        activationsTable?.deallocate()
        linalgTable?.deallocate()
    }

    /// A corpus read and tokenized once per path.
    func corpus(_ path: String) throws -> [UnsafeMutableBufferPointer<Int32>] {
        if let c = corpora[path] { return c }
        let texts = try JSONL.texts(session.resolvePath(path)).texts
        let docs = texts.map { t -> UnsafeMutableBufferPointer<Int32> in
            let ids = session.tokenizer.encode(t)
            let buf = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(ids.count, 1))
            _ = buf.initialize(from: ids)
            return UnsafeMutableBufferPointer(rebasing: buf[0..<ids.count])
        }
        corpora[path] = docs
        return docs
    }

    func cString(_ s: String) -> UnsafePointer<CChar> {
        if let p = cStrings[s] { return UnsafePointer(p) }
        let p = strdup(s)!
        cStrings[s] = p
        return UnsafePointer(p)
    }

    func handle(_ p: Parameter) -> OpaquePointer {
        if let i = handleOf[ObjectIdentifier(p)] { return OpaquePointer(bitPattern: i + 1)! }
        handles.append(p)
        handleOf[ObjectIdentifier(p)] = handles.count - 1
        return OpaquePointer(bitPattern: handles.count)!
    }

    func param(_ h: OpaquePointer?) -> Parameter? {
        guard let h else { return nil }
        let i = Int(bitPattern: UnsafeRawPointer(h)) - 1
        return i >= 0 && i < handles.count ? handles[i] : nil
    }
}

/// The bridge behind a `ce_host.ctx` (C callbacks cannot capture, so they look it up).
func bridge(_ ctx: UnsafeMutableRawPointer?) -> PluginBridge { Unmanaged<PluginBridge>.fromOpaque(ctx!).takeUnretainedValue() }

/// Fills a ce_tensor view of a host tensor (borrowed: the host keeps ownership).
private func tensorView(_ t: Tensor, _ out: UnsafeMutablePointer<ce_tensor>) {
    out.pointee.data = t.data
    out.pointee.count = Int64(t.count)
    out.pointee.ndim = Int32(min(t.shape.count, 4))
    var s: (Int64, Int64, Int64, Int64) = (1, 1, 1, 1)
    withUnsafeMutableBytes(of: &s) { raw in
        let p = raw.bindMemory(to: Int64.self)
        for (i, d) in t.shape.prefix(4).enumerated() { p[i] = Int64(d) }
    }
    out.pointee.shape = s
}

extension PluginBridge {
    func fail(_ code: Int32, _ message: String) -> ce_status { error = message; return code }

    fileprivate static func makeTable() -> ce_host {
        var t = ce_host()
        t.api_major = CE_API_MAJOR
        t.api_minor = CE_API_MINOR
        t.struct_size = UInt32(MemoryLayout<ce_host>.size)
        // A plugin reporting a host service's failure keeps the host's message as the cause.
        t.set_error = { ctx, msg in
            let b = bridge(ctx), m = msg.map { String(cString: $0) } ?? ""
            b.error = b.error.map { m + ": " + $0 } ?? m
        }
        t.log = { ctx, level, msg in
            let b = bridge(ctx)
            b.log("[\(level >= CE_LOG_WARN ? "warning" : level == CE_LOG_INFO ? "info" : "debug")] \(msg.map { String(cString: $0) } ?? "")")
        }
        t.progress = { ctx, fraction, what in
            bridge(ctx).log(String(format: "  %3.0f%% ", fraction * 100) + (what.map { String(cString: $0) } ?? ""))
        }
        t.cancelled = { _ in Cancellation.isRequested ? 1 : 0 }
        t.option_number = { ctx, name, out in
            let b = bridge(ctx)
            guard let name, let out else { return CE_ERR_INVALID_ARGUMENT }
            guard case .number(let v)? = b.options[String(cString: name)] else {
                return b.fail(CE_ERR_NOT_FOUND, "no numeric hyperparameter \(String(cString: name))")
            }
            out.pointee = v
            return CE_OK
        }
        t.option_string = { ctx, name, out in
            let b = bridge(ctx)
            guard let name, let out else { return CE_ERR_INVALID_ARGUMENT }
            guard case .string(let v)? = b.options[String(cString: name)] else {
                return b.fail(CE_ERR_NOT_FOUND, "no string hyperparameter \(String(cString: name))")
            }
            out.pointee = b.cString(v)
            return CE_OK
        }
        t.model_info = { ctx, out in
            let b = bridge(ctx)
            guard let out, out.pointee.struct_size >= UInt32(MemoryLayout<ce_model_info>.size) else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "model_info needs out->struct_size set")
            }
            let m = b.session.model
            out.pointee.layer_count = Int32(m.layerCount)
            out.pointee.hidden_size = Int32(m.parameters.first?.value.cols ?? 0)
            out.pointee.vocab_size = Int32(m.vocabSize)
            out.pointee.context_length = Int32(m.contextLength)
            out.pointee.architecture = b.cString(m.architecture)
            return CE_OK
        }
        t.example_count = { ctx in Int64(bridge(ctx).session.examples.count) }
        t.example_tokens = { ctx, index, which, ids, count in
            let b = bridge(ctx)
            guard let ids, let count, index >= 0, index < b.session.examples.count else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "example index \(index) is outside 0..<\(b.session.examples.count)")
            }
            let key = Int(index) * 4 + Int(which)
            if b.tokenCache[key] == nil {
                let ex = b.session.examples[Int(index)]
                let text: String?
                switch which {
                case CE_TEXT_PREFIX: text = ex.prefix
                case CE_TEXT_SUFFIX: text = ex.suffix
                case CE_TEXT_SUFFIX2: text = ex.suffix2
                case CE_TEXT_THROUGH_SUBJECT:
                    text = ex.subject.flatMap { subj in ex.prefix.range(of: subj, options: .backwards).map { String(ex.prefix[..<$0.upperBound]) } }
                default: return b.fail(CE_ERR_INVALID_ARGUMENT, "unknown text kind \(which)")
                }
                guard let text else { return b.fail(CE_ERR_NOT_FOUND, "example \(index) has no text of kind \(which)") }
                let toks = b.session.tokenizer.encode(text)
                let p = UnsafeMutablePointer<Int32>.allocate(capacity: max(toks.count, 1))
                p.initialize(from: toks, count: toks.count)
                b.tokenCache[key] = p
                b.tokenCounts[key] = toks.count
            }
            ids.pointee = UnsafePointer(b.tokenCache[key]!)
            count.pointee = Int64(b.tokenCounts[key]!)
            return CE_OK
        }
        t.param_count = { ctx in Int64(bridge(ctx).session.model.parameters.count) }
        t.param_at = { ctx, index, out in
            let b = bridge(ctx)
            let ps = b.session.model.parameters
            guard let out, index >= 0, index < ps.count else { return b.fail(CE_ERR_INVALID_ARGUMENT, "parameter index \(index) is outside 0..<\(ps.count)") }
            out.pointee = b.handle(ps[Int(index)])
            return CE_OK
        }
        t.param_find = { ctx, name, out in
            let b = bridge(ctx)
            guard let name, let out else { return CE_ERR_INVALID_ARGUMENT }
            let n = String(cString: name)
            guard let p = b.session.model.parameter(n) ?? b.session.trained.first(where: { $0.name == n }) else {
                return b.fail(CE_ERR_NOT_FOUND, "no parameter named \(n)")
            }
            out.pointee = b.handle(p)
            return CE_OK
        }
        t.param_name = { ctx, h in
            let b = bridge(ctx)
            return b.param(h).map { b.cString($0.name) }
        }
        t.param_value = { ctx, h, out in
            let b = bridge(ctx)
            guard let p = b.param(h), let out else { return b.fail(CE_ERR_INVALID_ARGUMENT, "not a parameter handle") }
            tensorView(p.value, out)
            return CE_OK
        }
        t.param_grad = { ctx, h, out in
            let b = bridge(ctx)
            guard let p = b.param(h), let out else { return b.fail(CE_ERR_INVALID_ARGUMENT, "not a parameter handle") }
            if p.requiresGrad { tensorView(p.ensureGrad(), out) } else { out.pointee = ce_tensor() }
            return CE_OK
        }
        t.train_param = { ctx, h in
            let b = bridge(ctx)
            guard let p = b.param(h) else { return b.fail(CE_ERR_INVALID_ARGUMENT, "not a parameter handle") }
            b.session.train(p)
            return CE_OK
        }
        t.train_rows = { ctx, h, rows, count in
            let b = bridge(ctx)
            guard let p = b.param(h), count >= 0, count == 0 || rows != nil else { return b.fail(CE_ERR_INVALID_ARGUMENT, "train_rows needs a parameter and rows") }
            let list = (0..<Int(count)).map { Int(rows![$0]) }
            guard list.allSatisfy({ $0 >= 0 && $0 < p.value.shape[0] }) else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "a row is outside 0..<\(p.value.shape[0]) of \(p.name)")
            }
            b.session.train(p, rows: list)
            return CE_OK
        }
        t.module_count = { ctx in Int64(bridge(ctx).session.model.linears.count) }
        t.module_name = { ctx, index in
            let b = bridge(ctx)
            let ls = b.session.model.linears
            return index >= 0 && index < ls.count ? b.cString(ls[Int(index)].name) : nil
        }
        t.module_matches = { ctx, name, regex in
            let b = bridge(ctx)
            guard let name, let regex else { return -1 }
            let pattern = String(cString: regex)
            if b.regexCache[pattern] == nil {
                guard let r = try? NSRegularExpression(pattern: "^(?:" + pattern + ")$") else {
                    b.error = "invalid regular expression \(pattern)"
                    return -1
                }
                b.regexCache[pattern] = r
            }
            let s = String(cString: name)
            return b.regexCache[pattern]!.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil ? 1 : 0
        }
        t.attach_low_rank = { ctx, module, rank, scale, A, B in
            let b = bridge(ctx)
            guard let module, let A, let B else { return CE_ERR_INVALID_ARGUMENT }
            do {
                let a = try b.session.attachLowRank(module: String(cString: module), rank: Int(rank), scale: scale)
                A.pointee = b.handle(a.A)
                B.pointee = b.handle(a.B)
                return CE_OK
            } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
        }
        t.adam_step = { ctx, h, lr, b1, b2, eps, wd in
            let b = bridge(ctx)
            guard let p = b.param(h), p.requiresGrad else { return b.fail(CE_ERR_INVALID_ARGUMENT, "adam_step on a tensor that is not trained") }
            guard lr.isFinite, b1 >= 0, b1 < 1, b2 >= 0, b2 < 1, eps > 0 else { return b.fail(CE_ERR_INVALID_ARGUMENT, "adam_step: invalid lr or betas") }
            b.session.adam.step(p, lr: lr, beta1: b1, beta2: b2, eps: eps, weightDecay: wd)
            return CE_OK
        }
        t.random_u64 = { ctx in bridge(ctx).session.rng.next() }
        t.random_uniform = { ctx in bridge(ctx).session.rng.nextDouble() }
        t.random_normal = { ctx in bridge(ctx).session.rng.normal() }
        t.alloc = { ctx, bytes in
            let b = bridge(ctx)
            var p: UnsafeMutableRawPointer? = nil
            guard posix_memalign(&p, 64, max(bytes, 1)) == 0, let p else { return nil }
            b.allocations.insert(p)
            return p
        }
        t.free = { ctx, p in
            let b = bridge(ctx)
            guard let p, b.allocations.remove(p) != nil else { return }
            free(p)
        }
        t.get_extension = { ctx, id in
            let b = bridge(ctx)
            guard let id else { return nil }
            switch String(cString: id) {
            case CE_EXT_ACTIVATIONS:
                guard b.session.model is DecoderLM else { return nil }
                if b.activationsTable == nil {
                    b.activationsTable = .allocate(capacity: 1)
                    b.activationsTable!.initialize(to: activationsExtension())
                }
                return UnsafeRawPointer(b.activationsTable!)
            case CE_EXT_LINALG:
                if b.linalgTable == nil {
                    b.linalgTable = .allocate(capacity: 1)
                    b.linalgTable!.initialize(to: linalgExtension())
                }
                return UnsafeRawPointer(b.linalgTable!)
            case CE_EXT_BACKPACK: break
            default: return nil
            }
            guard let bp = b.session.model as? BackpackLM else { return nil }
            if b.backpackTable == nil {
                let e = UnsafeMutablePointer<ce_backpack_ext>.allocate(capacity: 1)
                e.initialize(to: backpackExtension(bp))
                b.backpackTable = e
            }
            return UnsafeRawPointer(b.backpackTable!)
        }
        t.generate = { ctx, prompt, count, maxTokens, temperature, seed, out, written in
            let b = bridge(ctx)
            guard let ids = b.tokens(prompt, count), let out, let written, maxTokens >= 0 else { return b.fail(CE_ERR_INVALID_ARGUMENT, "generate: missing arguments") }
            do {
                let gen = try b.session.withOriginalModel {
                    try Scoring.generate(b.session.model, prompt: ids, maxTokens: Int(maxTokens), temperature: temperature, seed: seed)
                }
                out.update(from: gen, count: gen.count)
                written.pointee = Int64(gen.count)
                return CE_OK
            } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
        }
        t.task_loss = { ctx in let b = bridge(ctx); return b.cString(b.session.lossType.rawValue) }
        t.corpus_size = { ctx, path, out in
            let b = bridge(ctx)
            guard let path, let out else { return CE_ERR_INVALID_ARGUMENT }
            do { out.pointee = Int64(try b.corpus(String(cString: path)).count); return CE_OK } catch { return b.fail(CE_ERR_NOT_FOUND, "\(error)") }
        }
        t.corpus_document = { ctx, path, index, ids, count in
            let b = bridge(ctx)
            guard let path, let ids, let count else { return CE_ERR_INVALID_ARGUMENT }
            do {
                let docs = try b.corpus(String(cString: path))
                guard index >= 0, index < docs.count else { return b.fail(CE_ERR_INVALID_ARGUMENT, "document \(index) is outside 0..<\(docs.count)") }
                ids.pointee = UnsafePointer(docs[Int(index)].baseAddress)
                count.pointee = Int64(docs[Int(index)].count)
                return CE_OK
            } catch { return b.fail(CE_ERR_NOT_FOUND, "\(error)") }
        }
        return t
    }
}

/// One sequence's (ids, rows) arguments of a Backpack service, checked and converted; `body`
/// adds into the caller's `out`. Errors become the call's status and message.
private func sequenceCall(_ name: String, _ ctx: UnsafeMutableRawPointer?, _ ids: UnsafePointer<Int32>?, _ count: Int64,
                          _ rows: UnsafePointer<Int64>?, _ rowCount: Int64, _ out: UnsafeMutablePointer<Float>?,
                          _ body: (BackpackLM, EditSession, [Int32], [Int], UnsafeMutablePointer<Float>) throws -> Void) -> ce_status {
    let b = bridge(ctx)
    guard let bp = b.session.model as? BackpackLM, let ids, let out, count > 0, rowCount >= 0, rowCount == 0 || rows != nil else {
        return b.fail(CE_ERR_INVALID_ARGUMENT, "\(name): model \(type(of: b.session.model)) ids \(ids != nil) out \(out != nil) count \(count) rows \(rowCount) \(rows != nil)")
    }
    do {
        try body(bp, b.session, Array(UnsafeBufferPointer(start: ids, count: Int(count))), (0..<Int(rowCount)).map { Int(rows![$0]) }, out)
        return CE_OK
    } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
}

/// The "canonedit.backpack/1" table over a BackpackLM.
private func backpackExtension(_ bp: BackpackLM) -> ce_backpack_ext {
    var e = ce_backpack_ext()
    e.struct_size = UInt32(MemoryLayout<ce_backpack_ext>.size)
    e.num_senses = Int32(bp.numSenses)
    e.hidden_size = Int32(bp.C)
    e.vocab_size = Int32(bp.vocabSize)
    e.add_sense_weights = { ctx, ids, count, rows, rowCount, out in
        sequenceCall("add_sense_weights", ctx, ids, count, rows, rowCount, out) { bp, _, tokens, rows, out in
            try bp.addSenseWeights(tokens: tokens, rows: rows, into: out)
        }
    }
    e.sense_vectors = { ctx, tokens, count, out in
        let b = bridge(ctx)
        guard let bp = b.session.model as? BackpackLM, let tokens, let out, count >= 0 else { return CE_ERR_INVALID_ARGUMENT }
        do {
            let t = try bp.senses(of: Array(UnsafeBufferPointer(start: tokens, count: Int(count))))
            out.update(from: t.data, count: t.count)
            return CE_OK
        } catch { return b.fail(CE_ERR_INVALID_ARGUMENT, "\(error)") }
    }
    e.train_sense_deltas = { ctx, tokens, senses, count, out in
        let b = bridge(ctx)
        guard let bp = b.session.model as? BackpackLM, let out, count > 0, let tokens, let senses else {
            return b.fail(CE_ERR_INVALID_ARGUMENT, "train_sense_deltas needs a Backpack and at least one (token, sense) pair")
        }
        guard bp.senseDeltas.delta == nil else { return b.fail(CE_ERR_INVALID_ARGUMENT, "sense deltas were already chosen in this run") }
        var pairs: [(token: Int32, sense: Int)] = []
        for i in 0..<Int(count) {
            guard tokens[i] >= 0, Int(tokens[i]) < bp.vocabSize, senses[i] >= 0, Int(senses[i]) < bp.numSenses else {
                return b.fail(CE_ERR_INVALID_ARGUMENT, "pair \(i) (token \(tokens[i]), sense \(senses[i])) is out of range")
            }
            pairs.append((tokens[i], Int(senses[i])))
        }
        bp.senseDeltas.select(pairs, C: bp.C)
        b.session.train(bp.senseDeltas.delta!)
        out.pointee = b.handle(bp.senseDeltas.delta!)
        return CE_OK
    }
    e.add_predicted_probabilities = { ctx, ids, count, rows, rowCount, out in
        sequenceCall("add_predicted_probabilities", ctx, ids, count, rows, rowCount, out) { bp, session, tokens, rows, out in
            try session.withOriginalModel { try bp.addPredictedProbabilities(tokens: tokens, rows: rows, into: out) }
        }
    }
    return e
}
