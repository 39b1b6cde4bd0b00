import Engine
import Foundation
import PluginAPI
import Setting
import Support

/// The host state behind one plugin instance's `ce_host.ctx`.
final class PluginBridge {
    let session: EditSession
    let options: [String: PluginOption]
    let log: (String) -> Void
    /// Progress lines a terminal may redraw in place; `log` if nil.
    var transient: ((String) -> Void)?
    var table = ce_host()
    var error: String?
    var handles: [Parameter] = []  // ce_param* = index + 1
    var handleOf: [ObjectIdentifier: Int] = [:]
    var cStrings: [String: UnsafeMutablePointer<CChar>] = [:]
    var pinnedTokens: [Int: UnsafeMutableBufferPointer<Int32>] = [:]
    var allocations: Set<UnsafeMutableRawPointer> = []
    let patterns = FullMatchPatterns()
    var corpora: [String: [UnsafeMutableBufferPointer<Int32>]] = [:]
    var backpackTable: UnsafeMutablePointer<ce_backpack_ext>?
    var activationsTable: UnsafeMutablePointer<ce_activations_ext>?
    var linalgTable: UnsafeMutablePointer<ce_linalg_ext>?
    var hooksTable: UnsafeMutablePointer<ce_hooks_ext>?
    /// The method this bridge serves (its hooks keep it alive).
    weak var method: PluginMethod?

    init(session: EditSession, options: [String: PluginOption], log: @escaping (String) -> Void) {
        self.session = session
        self.options = options
        self.log = log
        table = Self.makeTable()
        table.ctx = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit {
        for p in cStrings.values { free(p) }
        for p in pinnedTokens.values { p.deallocate() }
        for p in allocations { free(p) }
        for docs in corpora.values { for d in docs { d.deallocate() } }
        backpackTable?.deallocate()
        activationsTable?.deallocate()
        linalgTable?.deallocate()
        hooksTable?.deallocate()
    }

    /// A corpus read and tokenized once per path.
    func corpus(_ path: String) throws -> [UnsafeMutableBufferPointer<Int32>] {
        if let c = corpora[path] { return c }
        let texts = try JSONL.texts(session.resolvePath(path)).texts
        let docs = texts.map { t -> UnsafeMutableBufferPointer<Int32> in
            let ids = session.tokenizer.startOfText(t)
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

    /// Token ids handed to C under `key`: copied once, valid for the bridge's life.
    func pinned(_ ids: [Int32], key: Int) -> UnsafeMutableBufferPointer<Int32> {
        if let p = pinnedTokens[key] { return p }
        let buf = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(ids.count, 1))
        _ = buf.initialize(from: ids)
        let view = UnsafeMutableBufferPointer(rebasing: buf[0..<ids.count])
        pinnedTokens[key] = UnsafeMutableBufferPointer(start: buf.baseAddress, count: ids.count)
        return view
    }

    func fail(_ code: Int32, _ message: String) -> ce_status { error = message; return code }

    func decoder() -> DecoderLM? { session.model as? DecoderLM }

    func tokens(_ ids: UnsafePointer<Int32>?, _ n: Int64) -> [Int32]? {
        guard let ids, n > 0 else { return nil }
        return Array(UnsafeBufferPointer(start: ids, count: Int(n)))
    }

    /// The `ce_host` table: each group of services fills its part.
    static func makeTable() -> ce_host {
        var t = ce_host()
        t.api_major = CE_API_MAJOR
        t.api_minor = CE_API_MINOR
        t.struct_size = UInt32(MemoryLayout<ce_host>.size)
        installCoreServices(&t)
        installRuntimeServices(&t)
        installParameterServices(&t)
        installTrainingServices(&t)
        installCorpusServices(&t)
        installExtensionLookup(&t)
        return t
    }
}

/// The bridge behind a `ce_host.ctx` (C callbacks cannot capture, so they look it up).
func bridge(_ ctx: UnsafeMutableRawPointer?) -> PluginBridge {
    Unmanaged<PluginBridge>.fromOpaque(ctx!).takeUnretainedValue()
}

/// Fills a ce_tensor view of a host tensor (borrowed: the host keeps ownership).
func tensorView(_ t: Tensor, _ out: UnsafeMutablePointer<ce_tensor>) {
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
