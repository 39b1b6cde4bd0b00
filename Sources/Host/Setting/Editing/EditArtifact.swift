import Engine
import Foundation
import Support

/// An edit saved on its own: what a method trained (LoRA adapters, Backpack sense deltas,
/// whole or row-restricted tensors) as a safetensors file, with the base model's identity,
/// the ball the edit was certified in, and a checksum of its tensors. One format serves every
/// method; applying it needs no plugin.
public enum EditArtifact {
    public struct Info: Codable, Equatable {
        public var format = "canonedit.edit/1"
        public var method: String
        public var base_model: String  // path it was trained on
        public var base_identity: String  // ModelIdentity of the base model
        public var ball: String?  // e.g. "0.0001"
        public var epoch: Int?
        public var adapters: [Adapter] = []
        public var senses: [[Int]] = []  // (token, sense) pairs of backpack.sense_deltas
        public var tensors: [String] = []  // model parameters stored whole
        public struct Adapter: Codable, Equatable {
            public var module: String; public var rank: Int; public var scale: Float
        }
    }

    /// Writes the session's current edit.
    public static func save(
        _ s: EditSession, method: String, basePath: String, ball: String?, epoch: Int?, to path: String
    ) throws {
        var info = Info(
            method: method, base_model: basePath, base_identity: ModelIdentity.of(s.model), ball: ball, epoch: epoch)
        var tensors: [(String, Tensor)] = []
        for lin in s.model.linears {
            guard let a = lin.slot.adapter else { continue }
            info.adapters.append(.init(module: lin.name, rank: a.rank, scale: a.scale))
            tensors += [(a.A.name, a.A.value), (a.B.name, a.B.value)]
        }
        if let bp = s.model as? BackpackLM, let d = bp.senseDeltas.delta {
            info.senses = bp.senseDeltas.pairs.map { [Int($0.token), $0.sense] }
            tensors.append((d.name, d.value))
        }
        let names = Set(s.model.parameters.map(\.name))
        for p in s.trained where names.contains(p.name) {
            info.tensors.append(p.name)
            tensors.append((p.name, p.value))
        }
        var meta = ["canonedit_edit": String(decoding: try JSONEncoder().encode(info), as: UTF8.self)]
        meta["checksum"] = Tensor.checksum(tensors.map(\.1))
        try SafetensorsWriter.write(tensors, to: path, metadata: meta)
    }

    public static func read(_ path: String) throws -> (Info, SafetensorsFile) {
        let f = try SafetensorsFile(path: path)
        guard let text = f.metadata["canonedit_edit"],
            let info = try? JSONDecoder().decode(Info.self, from: Data(text.utf8))
        else {
            throw CanonEditError("\(path): not a canonedit edit (no canonedit_edit metadata)")
        }
        guard info.format == "canonedit.edit/1" else {
            throw CanonEditError("\(path): edit format \(info.format) is not canonedit.edit/1")
        }
        var stored: [Tensor] = []
        for name in info.adapters.flatMap({ [$0.module + ".lora_A.weight", $0.module + ".lora_B.weight"] })
            + (info.senses.isEmpty ? [] : ["backpack.sense_deltas"]) + info.tensors
        {
            guard let shape = f.shape(of: name) else { throw CanonEditError("\(path): tensor \(name) is missing") }
            let t = Tensor(shape)
            try f.load(name, into: t)
            stored.append(t)
        }
        guard f.metadata["checksum"] == Tensor.checksum(stored) else {
            throw CanonEditError("\(path): checksum mismatch; the edit file is corrupt")
        }
        return (info, f)
    }

    /// Applies an edit to the session's model (revert with session.revert()). Refuses an edit
    /// made for another base model unless `force`.
    public static func apply(_ path: String, to s: EditSession, force: Bool = false) throws -> Info {
        let (info, f) = try read(path)
        let identity = ModelIdentity.of(s.model)
        if info.base_identity != identity, !force {
            throw CanonEditError(
                "\(path): made for \(info.base_model) (identity \(info.base_identity)), not this model (\(identity))")
        }
        for a in info.adapters {
            let ad = try s.attachLowRank(module: a.module, rank: a.rank, scale: a.scale)
            try f.load(ad.A.name, into: ad.A.value)
            try f.load(ad.B.name, into: ad.B.value)
        }
        if !info.senses.isEmpty {
            guard let bp = s.model as? BackpackLM else {
                throw CanonEditError("\(path): a sense edit needs a Backpack model")
            }
            bp.senseDeltas.select(info.senses.map { (Int32($0[0]), $0[1]) }, C: bp.C)
            s.train(bp.senseDeltas.delta!)
            try f.load("backpack.sense_deltas", into: bp.senseDeltas.delta!.value)
        }
        for name in info.tensors {
            guard let p = s.model.parameter(name) else {
                throw CanonEditError("\(path): the model has no parameter \(name)")
            }
            s.train(p)
            try f.load(name, into: p.value)
        }
        s.model.setTrainable(false)
        for p in s.trained { p.requiresGrad = false }
        return info
    }
}
