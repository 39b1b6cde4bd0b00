import Engine
import Foundation
import Kernels
import Support

extension EditArtifact {
    /// Writes the session's current edit; returns the file's size in bytes. `dtype` f16 halves
    /// the size of stored values (applying the edit then gives fp16-rounded values).
    @discardableResult
    public static func save(
        _ s: EditSession, method: String, basePath: String, ball: String?, epoch: Int?, to path: String,
        dtype: SafetensorsWriter.DType = .f32
    ) throws -> Int {
        // The identity of the base: the edit may have changed the tensors the identity reads.
        let identity = s.withOriginalModel { ModelIdentity.of(s.model) }
        var info = Info(method: method, base_model: basePath, base_identity: identity, ball: ball, epoch: epoch)
        info.base_sha256 = try? ModelDigest.cachedSHA256(basePath)
        var items: [SafetensorsWriter.Item] = []
        for lin in s.model.linears {
            guard let a = lin.slot.adapter else { continue }
            info.adapters.append(.init(module: lin.name, rank: a.rank, scale: a.scale))
            items += [.tensor(a.A.name, a.A.value), .tensor(a.B.name, a.B.value)]
        }
        // Sense deltas of every edit so far, summed per (token, sense): one set applies them all.
        if let bp = s.model as? BackpackLM, let all = bp.senseDeltas.combined(C: bp.C) {
            info.senses = all.pairs.map { [Int($0.token), $0.sense] }
            items.append(.tensor("backpack.sense_deltas", all.delta))
        }
        let names = Set(s.model.parameters.map(\.name))
        var rows: [(Info.Rows, SafetensorsWriter.Item)] = [], sparse: [(String, [SafetensorsWriter.Item])] = []
        for p in s.trained where names.contains(p.name) {
            switch storage(of: p, in: s) {
            case .unchanged: continue
            case .whole:
                info.tensors.append(p.name)
                items.append(.tensor(p.name, p.value))
            case .rows(let r, let t): rows.append((Info.Rows(name: p.name, rows: r), .tensor(p.name + ":rows", t)))
            case .sparse(let ix, let v):
                sparse.append((p.name, [.indices(p.name + ":indices", ix), .tensor(p.name + ":values", v)]))
            }
        }
        items += rows.map(\.1) + sparse.flatMap(\.1)
        info.format = "canonedit.edit/2"
        if s.methodStep > 0 {
            info.format = "canonedit.edit/3"
            info.sequential_steps = s.methodStep + 1
        }
        if let record = s.hookMethod {
            info.format = "canonedit.edit/3"
            info.method_plugin = record
            info.method_state = s.methodState.isEmpty ? nil : try MethodStateText.encode(s.methodState)
            info.method_tensors = s.methodTensors.map(\.name)
            items += s.methodTensors.map { .tensor($0.name, $0.value) }
        }
        if !rows.isEmpty { info.rows = rows.map(\.0) }
        if !sparse.isEmpty { info.sparse = sparse.map(\.0) }
        // Keys sorted: the same edit is the same bytes (Foundation's key order varies per process).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(info), as: UTF8.self)
        let meta = ["canonedit_edit": json, "sha256": digest(json, items, dtype: dtype)]
        try SafetensorsWriter.write(items: items, to: path, dtype: dtype, metadata: meta)
        return (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    enum Storage {
        case unchanged, whole
        case rows([Int], Tensor)
        case sparse([Int64], Tensor)
    }

    /// The smallest faithful way to store a trained model tensor: its trained rows, the
    /// entries that differ from the original (when fewer than a third change: 12 bytes each
    /// against 4 per entry), or the whole tensor.
    static func storage(of p: Parameter, in s: EditSession) -> Storage {
        let t = p.value
        if let changed = s.changedEntries(of: p) {
            guard !changed.isEmpty else { return .unchanged }
            return .sparse(changed.map(Int64.init), Tensor([changed.count], values: changed.map { t.data[$0] }))
        }
        if let rows = s.rows(of: p) {
            let width = t.count / max(t.shape[0], 1)
            let out = Tensor([rows.count, width])
            for (k, r) in rows.enumerated() { (out.data + k * width).update(from: t.data + r * width, count: width) }
            return .rows(rows, out)
        }
        guard let o = s.original(of: p) else { return .whole }
        // Sparse only while fewer than a third of the entries changed.
        let third = Int64((t.count + 2) / 3)
        let count = ce_count_differing(t.data, o.data, Int64(t.count), third)
        if count == 0 { return .unchanged }
        if count >= third { return .whole }
        var changed = [Int64](repeating: 0, count: Int(count))
        _ = ce_differing_indices(t.data, o.data, Int64(t.count), &changed)
        let values = Tensor([changed.count])
        for (k, i) in changed.enumerated() { values.data[k] = t.data[Int(i)] }
        return .sparse(changed, values)
    }

    /// SHA-256 over the metadata and the stored arrays as a reader loads them (values after
    /// any fp16 rounding).
    static func digest(_ json: String, _ items: [SafetensorsWriter.Item], dtype: SafetensorsWriter.DType) -> String {
        var sha = SHA256Digest()
        sha.add(Data(json.utf8))
        for item in items {
            switch item {
            case .tensor(_, let t):
                let stored = dtype == .f16 ? t.roundedToHalf() : t
                sha.add(UnsafeRawBufferPointer(start: stored.data, count: stored.count * 4))
            case .indices(_, let ix): ix.withUnsafeBytes { sha.add($0) }
            }
        }
        return sha.hex
    }
}
