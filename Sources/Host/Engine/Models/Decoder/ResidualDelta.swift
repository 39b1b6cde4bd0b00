import Foundation
import Support

/// A trainable vector (C) added to the residual stream leaving block `layer` at `position` of
/// every sequence (nowhere when position < 0).
public final class ResidualDelta {
    public let layer: Int
    public var position = -1
    public let value: Parameter
    public init(layer: Int, C: Int) {
        self.layer = layer
        value = Parameter("residual_delta.\(layer)", Tensor([C]))
    }
}
