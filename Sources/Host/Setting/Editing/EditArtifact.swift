import Engine
import Foundation
import Support

/// An edit saved on its own: what a method changed, as a safetensors file with the base
/// model's identity, the ball the edit was certified in, and a checksum of what it stores.
/// LoRA adapters and Backpack sense deltas are stored whole; a changed model tensor is stored
/// whole, as its trained rows, or as the indices and values of the entries that changed,
/// whichever is smallest. One format serves every method; applying it needs no plugin, except
/// for a method that acts inside the forward pass (canonedit.edit/3): its plugin, the options
/// it ran with, its state and its own tensors are recorded, and applying loads that plugin.
public enum EditArtifact {
    public struct Info: Codable, Equatable {
        public var format = "canonedit.edit/1"
        public var method: String
        public var base_model: String  // path it was trained on
        public var base_identity: String  // ModelIdentity of the base model
        /// Since canonedit.edit/2 files written by this version: ModelDigest of the weights the edit
        /// was made on (absent: not known, and not checked).
        public var base_sha256: String?
        public var ball: String?  // e.g. "0.0001"
        public var epoch: Int?
        public var adapters: [Adapter] = []
        public var senses: [[Int]] = []  // (token, sense) pairs of backpack.sense_deltas
        public var tensors: [String] = []  // model parameters stored whole
        /// Since canonedit.edit/2: row-restricted tensors, stored as "<name>:rows" (k, width).
        public var rows: [Rows]?
        /// Since canonedit.edit/2: tensors stored as "<name>:indices" (I64) and "<name>:values".
        public var sparse: [String]?
        /// Since canonedit.edit/3: the plugin whose hooks the edit runs through.
        public var method_plugin: MethodRecord?
        /// Since canonedit.edit/3: that plugin's state (see MethodStateText).
        public var method_state: String?
        /// Since canonedit.edit/3: the plugin's own trained tensors, stored whole.
        public var method_tensors: [String]?
        /// Since canonedit.edit/3: the number of edits of a sequential run (absent: one). A
        /// hook-based method is prepared once per edit when the file is applied.
        public var sequential_steps: Int?
        public struct Adapter: Codable, Equatable {
            public var module: String; public var rank: Int; public var scale: Float
        }
        public struct Rows: Codable, Equatable { public var name: String; public var rows: [Int] }
    }

    static let formats = ["canonedit.edit/1", "canonedit.edit/2", "canonedit.edit/3"]

    public static func read(_ path: String) throws -> (Info, SafetensorsFile) {
        let f = try SafetensorsFile(path: path)
        guard let text = f.metadata["canonedit_edit"],
            let info = try? JSONDecoder().decode(Info.self, from: Data(text.utf8))
        else {
            throw CanonEditError("\(path): not a canonedit edit (no canonedit_edit metadata)")
        }
        guard formats.contains(info.format) else {
            throw CanonEditError("\(path): edit format \(info.format) is not one of \(formats.joined(separator: ", "))")
        }
        // canonedit.edit/2 files carry SHA-256 over the metadata and the arrays; /1 files an
        // FNV-1a checksum over the arrays.
        var sum = FNV1a()
        var sha = SHA256Digest()
        sha.add(Data(text.utf8))
        for name in storedNames(info) {
            guard let shape = f.shape(of: name) else { throw CanonEditError("\(path): tensor \(name) is missing") }
            if f.dtype(of: name) == "I64" {
                let ix = try f.indices(name)
                ix.withUnsafeBytes {
                    sum.add(bytes: $0); sha.add($0)
                }
            } else {
                let t = Tensor(shape)
                try f.load(name, into: t)
                let bytes = UnsafeRawBufferPointer(start: t.data, count: t.count * 4)
                sum.add(bytes: bytes)
                sha.add(bytes)
            }
        }
        let intact =
            info.format == "canonedit.edit/1" ? f.metadata["checksum"] == sum.hex : f.metadata["sha256"] == sha.hex
        guard intact else { throw CanonEditError("\(path): checksum mismatch; the edit file is corrupt") }
        return (info, f)
    }

    /// The arrays an edit stores, in the order its checksum covers them.
    static func storedNames(_ info: Info) -> [String] {
        info.adapters.flatMap { [$0.module + ".lora_A.weight", $0.module + ".lora_B.weight"] }
            + (info.senses.isEmpty ? [] : ["backpack.sense_deltas"]) + info.tensors
            + (info.rows ?? []).map { $0.name + ":rows" }
            + (info.sparse ?? []).flatMap { [$0 + ":indices", $0 + ":values"] } + (info.method_tensors ?? [])
    }

    /// Applies an edit to the session's model (revert with session.revert()). An edit file is
    /// code-like input: every field is checked before anything changes, an edit made for
    /// another base model is refused unless `force`, and model tensors the named method does not
    /// change (a "lora" edit that rewrites an embedding) are refused unless `trust`.
    public static func apply(
        _ path: String, to s: EditSession, force: Bool = false, trust: Bool = false
    ) throws
        -> Info
    {
        let file = try read(path)
        if !force {
            try checkBase(file.0, identity: ModelIdentity.of(s.model), path: path)
            try checkWeights(file.0, modelPath: s.modelPath, path: path, trust: trust)
        }
        return try apply(file, path: path, to: s, trust: trust)
    }

    /// Refuses an edit made on other weights than `modelPath` holds (the identity compares sizes
    /// and a sample; this compares every byte as stored), unless `trust`.
    public static func checkWeights(_ info: Info, modelPath: String?, path: String, trust: Bool) throws {
        guard !trust, let want = info.base_sha256, let modelPath else { return }
        let have = try ModelDigest.cachedSHA256(modelPath)
        guard have == want else {
            throw CanonEditError(
                "\(path): made on weights with SHA-256 \(want); this model (\(modelPath)) has \(have). Apply it to "
                    + "other weights with --trust-edit")
        }
    }

    /// Refuses an edit made for a model other than the one of `identity`.
    public static func checkBase(_ info: Info, identity: String, path: String) throws {
        guard info.base_identity == identity else {
            throw CanonEditError(
                "\(path): made for \(info.base_model) (identity \(info.base_identity)), not this model (\(identity))")
        }
    }

    /// Applies an edit already read from `path` whose base was checked.
    public static func apply(
        _ file: (Info, SafetensorsFile), path: String, to s: EditSession, trust: Bool
    ) throws
        -> Info
    {
        let (info, f) = file
        try EditValidation.check(
            info, file: f, model: s.model, path: path, trust: trust, methodChanges: s.methodChanges)
        for a in info.adapters {
            let ad = try s.attachLowRank(module: a.module, rank: a.rank, scale: a.scale)
            try f.load(ad.A.name, into: ad.A.value)
            try f.load(ad.B.name, into: ad.B.value)
        }
        if !info.senses.isEmpty, let bp = s.model as? BackpackLM {
            bp.senseDeltas.select(info.senses.map { (Int32($0[0]), $0[1]) }, C: bp.C)
            s.train(bp.senseDeltas.delta!)
            try f.load("backpack.sense_deltas", into: bp.senseDeltas.delta!.value)
        }
        for name in info.tensors {
            let p = try parameter(name, in: s, path)
            s.train(p)
            try f.load(name, into: p.value)
        }
        for r in info.rows ?? [] { try applyRows(r, from: f, to: s, path) }
        for name in info.sparse ?? [] { try applySparse(name, from: f, to: s, path) }
        if let record = info.method_plugin { try applyMethod(record, info, from: f, to: s, path) }
        s.model.setTrainable(false)
        for p in s.trained { p.requiresGrad = false }
        return info
    }

    static func parameter(_ name: String, in s: EditSession, _ path: String) throws -> Parameter {
        guard let p = s.model.parameter(name) else {
            throw CanonEditError("\(path): the model has no parameter \(name)")
        }
        return p
    }

    static func applyRows(_ r: Info.Rows, from f: SafetensorsFile, to s: EditSession, _ path: String) throws {
        let p = try parameter(r.name, in: s, path)
        let height = p.value.shape[0], width = p.value.count / max(height, 1)
        guard f.shape(of: r.name + ":rows") == [r.rows.count, width],
            r.rows.allSatisfy({ $0 >= 0 && $0 < height })
        else {
            throw CanonEditError("\(path): the rows stored for \(r.name) do not fit its shape \(p.value.shape)")
        }
        let stored = Tensor([r.rows.count, width])
        try f.load(r.name + ":rows", into: stored)
        s.train(p, rows: r.rows)
        for (k, row) in r.rows.enumerated() {
            (p.value.data + row * width).update(from: stored.data + k * width, count: width)
        }
    }

    /// A hook-based edit: the plugin is loaded and prepared on the saved state (it rebuilds its
    /// hooks from that, not from examples), then its tensors take their saved values.
    static func applyMethod(
        _ record: MethodRecord, _ info: Info, from f: SafetensorsFile, to s: EditSession, _ path: String
    ) throws {
        guard let load = s.loadMethod else {
            throw CanonEditError(
                "\(path): this edit runs inside the model through plugin \(record.id), which cannot be loaded here")
        }
        guard s.methodTensors.isEmpty, !s.hasHooks else {
            throw CanonEditError("\(path): a second hook-based edit cannot be applied over another one")
        }
        s.methodState = try info.method_state.map { try MethodStateText.decode($0, source: path) } ?? [:]
        let steps = info.sequential_steps ?? 1
        guard (1...100_000).contains(steps) else {
            throw CanonEditError("\(path): sequential_steps \(steps) is out of range")
        }
        for step in 0..<steps {
            s.methodStep = step
            try load(record).prepare(s)
        }
        s.methodStep = 0
        let made = Set(s.methodTensors.map(\.name)), saved = Set(info.method_tensors ?? [])
        guard made == saved else {
            throw CanonEditError(
                "\(path): plugin \(record.id) made the tensors \(made.sorted()) but the edit stores \(saved.sorted())")
        }
        for p in s.methodTensors {
            guard f.shape(of: p.name) == p.value.shape else {
                throw CanonEditError(
                    "\(path): \(p.name) is stored as \(f.shape(of: p.name) ?? []), the plugin's is \(p.value.shape)")
            }
            try f.load(p.name, into: p.value)
        }
        s.hookMethod = record
    }

    static func applySparse(_ name: String, from f: SafetensorsFile, to s: EditSession, _ path: String) throws {
        let p = try parameter(name, in: s, path)
        let indices = try f.indices(name + ":indices")
        guard f.shape(of: name + ":values") == [indices.count],
            indices.allSatisfy({ $0 >= 0 && $0 < Int64(p.value.count) })
        else {
            throw CanonEditError("\(path): the entries stored for \(name) do not fit its \(p.value.count) values")
        }
        let values = Tensor([indices.count])
        try f.load(name + ":values", into: values)
        s.train(p)
        for (k, i) in indices.enumerated() { p.value.data[Int(i)] = values.data[k] }
    }
}
