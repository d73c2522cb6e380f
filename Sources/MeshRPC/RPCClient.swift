// RPCClient: calls methods on one or more endpoints — multiplexed, with deadlines, failover and reconnect.

public import MeshLoop
public import MeshTLS
public import MeshWire
import SwiftProtobuf

/// A client of one service that may run at several endpoints.
///
/// Calls are multiplexed on one connection per endpoint and spread round-robin over the endpoints
/// that are up. An endpoint that fails is taken out and probed back in with exponential backoff.
/// Each call may carry a timeout: it travels to the server as the deadline budget, and the call
/// fails locally with DEADLINE_EXCEEDED when it passes, whatever the server does.
///
/// ```swift
/// let client = RPCClient(loop: loop, endpoints: [.unix(path: "/run/a.sock"), .tcp(host: "10.0.0.2", port: 7001)],
///                        configuration: .init(name: "worker"))
/// client.call(AlertService.analyze, request, timeoutMs: 2_000) { result in … }
/// ```
public final class RPCClient {
    public struct Configuration: Sendable {
        /// Our name in HELLO (`worker`, `rpc-probe`).
        public var name: String
        public var build: String = "dev"
        public var connectTimeoutMs: UInt64 = 5_000
        /// The largest response body we accept.
        public var maxFrame: UInt32 = HelloSettings.defaultMaxFrame
        public var timeouts = ConnectionTimeouts()
        public var reconnectBackoff = Backoff()
        /// Calls held while no endpoint is ready yet; more fail with RESOURCE_EXHAUSTED.
        public var maxQueuedCalls = 100_000
        /// TLS for `tcp://` endpoints (Unix sockets stay plaintext).
        public var tls: TLSContext?
        /// Over TLS, the server identities accepted (`alert-service`); nil: any the CA signed.
        public var expectedPeers: Set<String>?

        public init(name: String) { self.name = name }
    }

    public let loop: EventLoop
    public let configuration: Configuration
    let helloSettings: HelloSettings
    private var endpoints: [ClientEndpoint] = []
    private var roundRobin = 0
    /// Calls waiting for a connection or for room under a server's `max-concurrent`, oldest first
    /// (a FIFO: `waiting[waitingHead...]`).
    private var waiting: [ClientCall] = []
    private var waitingHead = 0
    private var deadlines = DeadlineQueue<ClientCall>()
    private var deadlineTimer: LoopTimer?
    private var closed = false

    /// Receives every frame sent and received (for `--dump-frames`).
    public var tracer: ((Endpoint, FrameTrace) -> Void)?
    /// Receives connection events (for `-v` and logs).
    public var onEvent: ((Endpoint, ClientEvent) -> Void)?

    public init(loop: EventLoop, endpoints: [Endpoint], configuration: Configuration) {
        precondition(!endpoints.isEmpty, "RPCClient needs at least one endpoint")
        self.loop = loop
        self.configuration = configuration
        var hello = HelloSettings()
        hello.maxFrame = min(configuration.maxFrame, HelloSettings.hardMaxFrame)
        hello.pingIntervalMs = configuration.timeouts.pingIntervalMs
        hello.peer = configuration.name
        hello.build = configuration.build
        helloSettings = hello
        self.endpoints = endpoints.map { ClientEndpoint(endpoint: $0, client: self) }
    }

    // MARK: Calling

    /// Calls `method` with `request`; `completion` runs once, on the loop.
    public func call<Request, Response>(
        _ method: RPCMethod<Request, Response>, _ request: Request, metadata: Metadata = Metadata(),
        timeoutMs: UInt64 = 0, completion: @escaping (Result<Response, RPCError>) -> Void
    ) {
        let payload: [UInt8]
        do {
            payload = try request.serializedBytes()
        } catch {
            return completion(.failure(RPCError(.internal, "cannot encode \(Request.protoMessageName): \(error)")))
        }
        let flags: FrameFlags = method.descriptor.idempotent ? [.idempotent] : []
        call(
            methodID: method.descriptor.id.rawValue, payload: payload, metadata: metadata, flags: flags,
            timeoutMs: timeoutMs
        ) {
            result in
            completion(
                result.flatMap { raw in
                    do {
                        return .success(try Response(serializedBytes: raw.payload))
                    } catch {
                        return .failure(
                            RPCError(.internal, "cannot decode response as \(Response.protoMessageName): \(error)"))
                    }
                })
        }
    }

    /// Calls by raw method id with a ready-made payload (tools such as rpc-probe use this with JSON).
    public func call(
        methodID: UInt32, payload: [UInt8], metadata: Metadata = Metadata(), flags: FrameFlags = [],
        timeoutMs: UInt64 = 0,
        completion: @escaping (Result<RawResponse, RPCError>) -> Void
    ) {
        do {
            try metadata.validate()
        } catch {
            return completion(.failure(RPCError(.invalidArgument, "\(error)")))
        }
        start(
            ClientCall(
                kind: .call, methodID: methodID, payload: payload, metadata: metadata, flags: flags,
                timeoutMs: timeoutMs, completion: completion))
    }

    /// Measures one PING/PONG round trip; succeeds with the RTT in nanoseconds.
    public func ping(timeoutMs: UInt64 = 0, completion: @escaping (Result<UInt64, RPCError>) -> Void) {
        start(
            ClientCall(kind: .ping, methodID: 0, payload: [], metadata: Metadata(), flags: [], timeoutMs: timeoutMs) {
                result in completion(result.map(\.latencyNs))
            })
    }

    private func start(_ call: ClientCall) {
        guard !closed else { return call.complete(.failure(RPCError(.cancelled, "client closed"))) }
        if call.timeoutMs > 0 {
            let deadline = loop.nowMs + call.timeoutMs
            let earliest = deadlines.earliest?.deadlineMs
            deadlines.insert(call, deadlineMs: deadline)
            if earliest == nil || deadline < earliest! { armDeadlineTimer() }
        }
        dispatch(call)
    }

    /// Sends `call` on the next ready endpoint, or holds it while one connects, or fails it.
    private func dispatch(_ call: ClientCall) {
        let n = endpoints.count
        for i in 0..<n {
            let ep = endpoints[(roundRobin + i) % n]
            if ep.canTakeCall {
                roundRobin = (roundRobin + i + 1) % n
                return ep.send(call)
            }
        }
        connect()
        if endpoints.contains(where: { $0.isTrying || $0.state == .ready }) {
            guard waiting.count - waitingHead < configuration.maxQueuedCalls else {
                return finish(
                    call,
                    .failure(
                        RPCError(.resourceExhausted, "too many calls waiting for a connection", notProcessed: true)))
            }
            waiting.append(call)
        } else {
            finish(call, .failure(RPCError(.unavailable, unavailableMessage(), notProcessed: true)))
        }
    }

    private func unavailableMessage() -> String {
        let reasons = endpoints.map { "\($0.endpoint): \($0.lastError ?? "not connected")" }
        return reasons.count == 1 ? reasons[0] : "no endpoint available (" + reasons.joined(separator: "; ") + ")"
    }

    /// A call refused unprocessed by a draining server: try again elsewhere.
    func redispatch(_ call: ClientCall) { dispatch(call) }

    func endpointDidBecomeReady(_ endpoint: ClientEndpoint) { flushWaiting() }

    func endpointDidFail(_ endpoint: ClientEndpoint) {
        if endpoints.contains(where: { $0.canTakeCall }) { return flushWaiting() }
        if endpoints.contains(where: { $0.isTrying }) { return }
        // Nobody is up or trying: fail fast rather than hold calls through the backoff.
        let calls = takeWaiting()
        let message = unavailableMessage()
        for call in calls where !call.isDone {
            finish(call, .failure(RPCError(.unavailable, message, notProcessed: true)))
        }
    }

    /// Sends waiting calls, oldest first, while some endpoint has room; the rest keep their order.
    private func flushWaiting() {
        while waitingHead < waiting.count, endpoints.contains(where: { $0.canTakeCall }) {
            let call = waiting[waitingHead]
            waitingHead += 1
            if !call.isDone { dispatch(call) }
        }
        if waitingHead == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingHead = 0
        } else if waitingHead > 1_024 && waitingHead * 2 > waiting.count {
            waiting.removeFirst(waitingHead)
            waitingHead = 0
        }
    }

    private func takeWaiting() -> ArraySlice<ClientCall> {
        let calls = waiting[waitingHead...]
        waiting = []
        waitingHead = 0
        return calls
    }

    func finish(_ call: ClientCall, _ result: Result<RawResponse, RPCError>) {
        deadlines.remove(call)
        call.complete(result)
        // A finished call may have freed room under a server's max-concurrent.
        if waitingHead < waiting.count { flushWaiting() }
    }

    // MARK: Deadlines

    private func armDeadlineTimer() {
        guard let first = deadlines.earliest else { return }
        if deadlineTimer == nil { deadlineTimer = try? LoopTimer(loop: loop) }
        let now = loop.nowMs
        deadlineTimer?.start(afterMs: first.deadlineMs > now ? first.deadlineMs - now : 0) { [unowned self] in
            for call in self.deadlines.popExpired(nowMs: self.loop.nowMs) {
                if call.endpoint?.holdExpired(call) == true { continue }
                call.endpoint?.abandon(call, reason: .deadlineExceeded)
                var error = RPCError.deadlineExceeded(afterMs: call.timeoutMs)
                // Still waiting for a connection: no server ever saw it.
                error.notProcessed = call.sentNs == 0
                call.complete(.failure(error))
            }
            if self.waitingHead < self.waiting.count { self.flushWaiting() }
            self.armDeadlineTimer()
        }
    }

    // MARK: State

    func emit(_ endpoint: Endpoint, _ event: ClientEvent) { onEvent?(endpoint, event) }

    /// Whether any endpoint is connected and ready.
    public var isConnected: Bool { endpoints.contains { $0.state == .ready } }

    /// Whether some endpoint would take a call now (ready, not draining, under its limit).
    public var canTakeCall: Bool { endpoints.contains { $0.canTakeCall } }

    /// Starts connecting every endpoint that is not connected or trying yet, so a caller can know
    /// whether the service is reachable before its first call.
    public func connect() {
        for ep in endpoints { ep.connectIfIdle() }
    }

    /// Calls in flight on the wire, all endpoints together.
    public var inFlightCount: Int { endpoints.reduce(0) { $0 + $1.inFlight.count } }

    /// Fails everything pending with CANCELLED and closes every connection and timer.
    public func close() {
        guard !closed else { return }
        closed = true
        for call in takeWaiting() { finish(call, .failure(RPCError(.cancelled, "client closed"))) }
        for ep in endpoints { ep.close() }
        deadlineTimer?.close()
        deadlineTimer = nil
    }
}
