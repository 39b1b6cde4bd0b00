import Engine
import Foundation
import Support

/// An editing method as the training loop sees it. Plugins loaded from dynamic libraries are
/// adapted to this (PluginLoader); the loop never knows which method it runs.
public protocol EditMethod: AnyObject {
    var id: String { get }
    /// Chooses what to train (tensors, adapters) through the session.
    func prepare(_ session: EditSession) throws
    /// One update after the gradients of the trained tensors are in place.
    func update(_ session: EditSession, learningRate: Double, step: Int) throws
    /// Closed-form methods edit the model once, in `apply`, instead of being trained.
    var closedForm: Bool { get }
    func apply(_ session: EditSession) throws
}

extension EditMethod {
    public var closedForm: Bool { false }
    public func apply(_ session: EditSession) throws {}
}
