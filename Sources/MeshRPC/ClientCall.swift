// ClientCall: one outgoing call (or probe ping) from queueing to completion.

public import MeshLoop
public import MeshWire

/// The answer to a call made with `RPCClient.call(methodID:…)`: raw payload bytes.
public struct RawResponse: Sendable {
    public var payload: [UInt8]
    public var metadata: Metadata
    /// Which endpoint answered.
    public var endpoint: Endpoint
    /// From the request leaving (not from queueing) to the answer arriving, in nanoseconds.
    public var latencyNs: UInt64
}

final class ClientCall: DeadlineEntry {
    enum Kind { case call, ping }

    let kind: Kind
    let methodID: UInt32
    let payload: [UInt8]
    let metadata: Metadata
    let flags: FrameFlags
    let timeoutMs: UInt64
    let startNs = EventLoop.hrtimeNs()
    var requestID: UInt32 = 0
    var sentNs: UInt64 = 0
    /// Where the request starts in its connection's byte stream, and the connection's reads then.
    var streamOffset: UInt64 = 0
    var readsAtSend: UInt64 = 0
    /// Not retained: a client keeps its endpoints as long as it lives (a weak reference would
    /// make every retain of the endpoint take the slow path).
    unowned(unsafe) var endpoint: ClientEndpoint?
    private var completion: ((Result<RawResponse, RPCError>) -> Void)?

    init(
        kind: Kind, methodID: UInt32, payload: [UInt8], metadata: Metadata, flags: FrameFlags, timeoutMs: UInt64,
        completion: @escaping (Result<RawResponse, RPCError>) -> Void
    ) {
        self.kind = kind
        self.methodID = methodID
        self.payload = payload
        self.metadata = metadata
        self.flags = flags
        self.timeoutMs = timeoutMs
        self.completion = completion
    }

    var isDone: Bool { completion == nil }

    var latencyNs: UInt64 { EventLoop.hrtimeNs() &- sentNs }

    /// Completes the call once; later completions are ignored.
    func complete(_ result: Result<RawResponse, RPCError>) {
        guard let c = completion else { return }
        completion = nil
        c(result)
    }

    /// Bytes the request takes in a frame body.
    var bodySize: Int { payload.count + (metadata.isEmpty ? 0 : metadata.encodedSize) }
}
