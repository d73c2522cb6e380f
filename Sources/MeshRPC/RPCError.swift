// RPCError: a failed call — a status code and a message a person can act on.

public import MeshWire

/// The failure of one call: a gRPC-numbered status and a human message.
public struct RPCError: Error, Sendable, Hashable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String
    /// No server took the call: it was never sent (no endpoint could take it, or its deadline
    /// passed while it waited for one), or a server refused it unprocessed (draining, over its
    /// `max-concurrent`: ERROR metadata `not-processed: 1`). Safe to send again, and not the
    /// request's fault — a caller counting attempts should not count this one.
    public var notProcessed: Bool

    public init(_ code: StatusCode, _ message: String, notProcessed: Bool = false) {
        self.code = code
        self.message = message
        self.notProcessed = notProcessed
    }

    /// The ERROR metadata by which a server says it did not process a call.
    public static let notProcessedMetadata: Metadata = [notProcessedKey: "1"]
    static let notProcessedKey = "not-processed"

    public var description: String { "\(code.name): \(message)" }

    /// What a caller sees when its own deadline passes.
    public static func deadlineExceeded(afterMs ms: UInt64) -> RPCError {
        RPCError(.deadlineExceeded, "deadline exceeded after \(ms) ms")
    }
}
