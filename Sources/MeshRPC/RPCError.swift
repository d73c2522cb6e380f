// RPCError: a failed call — a status code and a message a person can act on.

public import MeshWire

/// The failure of one call: a gRPC-numbered status and a human message.
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String

    public init(_ code: StatusCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.name): \(message)" }

    /// What a caller sees when its own deadline passes.
    public static func deadlineExceeded(afterMs ms: UInt64) -> RPCError {
        RPCError(.deadlineExceeded, "deadline exceeded after \(ms) ms")
    }
}
