/// Every error canonedit reports to a user. Messages name the file and the field or tensor,
/// what was expected and what was found, and where there is one, the next step.
public struct CanonEditError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A file that could not be read as the format it claims to be.
public func formatError(_ path: String, _ what: String) -> CanonEditError {
    CanonEditError("\(path): \(what)")
}
