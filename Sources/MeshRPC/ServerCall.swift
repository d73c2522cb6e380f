// ServerCall: one call being served — its request context and the one way to answer it.

import MeshLoop
public import MeshWire
public import SwiftProtobuf

/// A call in progress at a server. Answer it exactly once with `respond(_:)` or `fail(_:)`;
/// answers after the deadline, a CANCEL or a lost connection are dropped (check `isCancelled`
/// to stop working early).
public final class ServerCall: DeadlineEntry {
    enum Codec { case binary, json }

    public let requestID: UInt32
    let registration: RPCServer.Registration
    public var method: MethodDescriptor { registration.descriptor }
    /// The request's metadata (`task-id`, `trace-id`, …).
    public let metadata: Metadata
    /// The caller's deadline budget in ms (0: none).
    public let budgetMs: UInt32
    let codec: Codec
    let oneway: Bool
    let startNs: UInt64
    /// Strong: a handler that answers late still reaches its connection (which drops the answer
    /// if the connection is gone); the connection lets go of its calls when they finish.
    let connection: ServerConnection
    public private(set) var isFinished = false
    private var cancelled = false

    init(
        requestID: UInt32, registration: RPCServer.Registration, metadata: Metadata, budgetMs: UInt32,
        codec: Codec, oneway: Bool, connection: ServerConnection
    ) {
        self.requestID = requestID
        self.registration = registration
        self.metadata = metadata
        self.budgetMs = budgetMs
        self.codec = codec
        self.oneway = oneway
        self.connection = connection
        self.startNs = EventLoop.hrtimeNs()
    }

    /// True once the caller no longer wants the answer: deadline passed, CANCEL received, or the
    /// connection is gone. Long handlers check it to stop early.
    public var isCancelled: Bool { cancelled || isFinished }

    /// Milliseconds left before the caller's deadline, or nil without a deadline.
    public var remainingMs: UInt64? {
        guard budgetMs > 0 else { return nil }
        let now = connection.loop.nowMs
        return deadlineMs > now ? deadlineMs - now : 0
    }

    /// Answers with `response`, encoded the way the request came (protobuf binary or JSON).
    public func respond<Response: SwiftProtobuf.Message>(_ response: Response) {
        guard !isFinished else { return }
        assert(
            Response.protoMessageName == method.responseType,
            "\(method.fullName) answered with \(Response.protoMessageName)")
        let payload: [UInt8]
        var md = Metadata()
        do {
            switch codec {
            case .binary:
                payload = try response.serializedBytes()
            case .json:
                payload = try response.jsonUTF8Bytes()
                md["content-type"] = "application/json"
            }
        } catch {
            return fail(RPCError(.internal, "cannot encode \(Response.protoMessageName): \(error)"))
        }
        connection.finish(self, with: .success((payload, md)))
    }

    /// Answers with an error status.
    public func fail(_ error: RPCError) {
        guard !isFinished else { return }
        connection.finish(self, with: .failure(error))
    }

    public func fail(_ code: StatusCode, _ message: String) { fail(RPCError(code, message)) }

    /// Marks the call done without answering (cancelled by the peer, or the connection closed).
    func abandon() {
        cancelled = true
        isFinished = true
    }

    func markFinished() { isFinished = true }
}
