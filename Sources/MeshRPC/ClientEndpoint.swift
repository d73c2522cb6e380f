// ClientEndpoint: one endpoint of a client — its connection, reconnect backoff and calls in flight.

import MeshLoop
import MeshTLS
import MeshWire

final class ClientEndpoint: WireConnectionDelegate {
    enum State: Equatable { case idle, connecting, handshaking, ready, backoff, closed }

    let endpoint: Endpoint
    unowned let client: RPCClient
    private(set) var state: State = .idle
    private(set) var lastError: String?
    private var wire: WireConnection?
    private var connecting: StreamConnection?
    private var timer: LoopTimer?
    private var failures = 0
    private var connectStartNs: UInt64 = 0
    private var draining = false
    private var connectTimedOut = false
    private(set) var inFlight = CallTable<ClientCall>()
    private var pings = CallTable<ClientCall>()
    private var nextRequestID: UInt32 = 1
    private var nextPingValue: UInt32 = 0
    private var replyPace = MessagePace()

    init(endpoint: Endpoint, client: RPCClient) {
        self.endpoint = endpoint
        self.client = client
    }

    deinit {
        wire?.delegate = nil
        wire?.close("client gone")
    }

    var loop: EventLoop { client.loop }

    /// Ready for a new call: connected, not draining, under the server's concurrency limit.
    var canTakeCall: Bool {
        guard state == .ready, !draining, let wire else { return false }
        let limit = wire.remote?.maxConcurrent ?? 0
        return limit == 0 || inFlight.count < Int(limit)
    }

    var isTrying: Bool { state == .connecting || state == .handshaking }
    var negotiatedMaxFrame: UInt32? { wire?.negotiatedMaxFrame }

    // MARK: Connecting

    func connectIfIdle() {
        guard state == .idle else { return }
        connect()
    }

    private func connect() {
        state = .connecting
        connectStartNs = EventLoop.hrtimeNs()
        client.emit(endpoint, .connecting)
        do {
            connecting = try StreamConnection.connect(loop: loop, to: endpoint) { [weak self] result in
                self?.didConnect(result)
            }
        } catch {
            return connectFailed(ClientEndpoint.describe(error))
        }
        ensureTimer()
        connectTimedOut = false
        timer?.start(afterMs: client.configuration.connectTimeoutMs) { [weak self] in
            guard let self, self.state == .connecting else { return }
            self.connectTimedOut = true
            self.connecting?.close()  // completes the connect with ECANCELED
        }
    }

    private func ensureTimer() {
        if timer == nil { timer = try? LoopTimer(loop: loop) }
    }

    private func didConnect(_ result: Result<Void, UVError>) {
        timer?.stop()
        guard let stream = connecting else { return }
        connecting = nil
        guard state == .connecting else {
            stream.close()
            return
        }
        switch result {
        case .failure(let error):
            stream.close()
            if connectTimedOut {
                return connectFailed("connect timed out after \(client.configuration.connectTimeoutMs) ms")
            }
            connectFailed(ClientEndpoint.describe(error))
        case .success:
            client.emit(endpoint, .connected(ms: elapsedMs()))
            state = .handshaking
            draining = false
            let wire = WireConnection(
                stream: stream, role: .client, local: client.helloSettings, timeouts: client.configuration.timeouts)
            wire.delegate = self
            if let tracer = client.tracer {
                let ep = endpoint
                wire.tracer = { tracer(ep, $0) }
            }
            self.wire = wire
            if case .tcp = endpoint, let tls = client.configuration.tls {
                guard let session = tls.makeSession(server: false, expecting: client.configuration.expectedPeers)
                else {
                    stream.close()
                    return connectFailed("cannot start a TLS session (out of memory?)")
                }
                stream.onSecured = { [weak self, unowned session] in
                    guard let self else { return }
                    self.client.emit(
                        self.endpoint,
                        .secured(identity: session.peerIdentity, parameters: session.parameters, ms: self.elapsedMs()))
                }
                stream.secure(with: session)
            }
            wire.start()
        }
    }

    /// A connect error as a person reads it: "connection refused", "no such socket file".
    static func describe(_ error: UVError) -> String {
        switch error.code {
        case UVError.connectionRefused: "connection refused"
        case UVError.noEntry: "no such socket file"
        case UVError.timedOut: "connection timed out"
        default: "\(error.name) (\(error.message))"
        }
    }

    private func elapsedMs() -> Double { Double(EventLoop.hrtimeNs() &- connectStartNs) / 1e6 }

    private func connectFailed(_ reason: String) {
        lastError = reason
        scheduleReconnect(reason: reason)
        client.endpointDidFail(self)
    }

    private func scheduleReconnect(reason: String) {
        guard state != .closed else { return }
        failures += 1
        state = .backoff
        let delay = client.configuration.reconnectBackoff.delayMs(attempt: failures)
        client.emit(endpoint, .backoff(ms: delay, reason: reason))
        ensureTimer()
        timer?.start(afterMs: delay) { [weak self] in
            guard let self, self.state == .backoff else { return }
            self.connect()
        }
    }

    // MARK: Calls

    /// Sends `call` on this endpoint's connection; the caller checked `canTakeCall`.
    func send(_ call: ClientCall) {
        guard let wire else { return }
        call.endpoint = self
        call.sentNs = EventLoop.hrtimeNs()
        switch call.kind {
        case .ping:
            nextPingValue &+= 1
            let value = 0x8000_0000 | (nextPingValue & 0x7FFF_FFFF)
            call.requestID = value
            _ = pings.insert(call, for: value)
            wire.ping(value: value)
            replyPace.awaitNext(on: loop)
        case .call:
            if call.bodySize > Int(wire.negotiatedMaxFrame) {
                return client.finish(
                    call,
                    .failure(
                        RPCError(
                            .resourceExhausted,
                            "request of \(call.bodySize) bytes exceeds the frame limit \(wire.negotiatedMaxFrame) of \(endpoint)"
                        )))
            }
            var id = nextRequestID
            let oneway = call.flags.contains(.oneway)
            // Skip ids still in flight (after a wrap-around).
            while oneway ? inFlight[id] != nil : inFlight.insert(call, for: id) != nil { id &+= 2 }
            nextRequestID = id &+ 2
            call.requestID = id
            let budget = UInt32(clamping: call.timeoutMs)
            call.streamOffset = wire.bytesQueued
            call.readsAtSend = wire.reads
            wire.send(
                Frame(
                    type: .request, flags: call.flags, requestID: id, methodID: call.methodID, aux: budget,
                    metadata: call.metadata, payload: call.payload))
            if oneway {
                client.finish(
                    call,
                    .success(
                        RawResponse(payload: [], metadata: Metadata(), endpoint: endpoint, latencyNs: call.latencyNs)))
            } else {
                replyPace.awaitNext(on: loop)
            }
        }
    }

    /// A reply to `call` arrived; with nothing left in flight, the spin (if any) ends at once.
    /// Returns the call's latency: one clock read serves the pace and the caller's answer.
    private func noteReply(_ call: ClientCall) -> UInt64 {
        let latencyNs = call.latencyNs
        replyPace.note(latencyNs)
        if inFlight.isEmpty && pings.isEmpty { loop.endAwait() }
        return latencyNs
    }

    /// `call`'s deadline passed without a word from the peer since it was sent: before calling
    /// it a timeout (an attempt that may have run), find out whether the peer is there at all.
    /// Alive: the call ends with `deadlineExceeded` as usual. Silent: the connection is reset and
    /// the call fails as unavailable — not processed, if its bytes never reached the peer's
    /// machine. Returns false when the call is not this endpoint's to hold.
    func holdExpired(_ call: ClientCall) -> Bool {
        guard call.kind == .call, call.timeoutMs > 0, let wire, inFlight[call.requestID] === call,
            wire.reads == call.readsAtSend
        else { return false }
        wire.probe(timeoutMs: 1_000) { [weak self] alive in
            // Silent: the reset failed every call in flight, this one included.
            guard alive, let self, self.inFlight[call.requestID] === call else { return }
            self.abandon(call, reason: .deadlineExceeded)
            self.client.finish(call, .failure(RPCError.deadlineExceeded(afterMs: call.timeoutMs)))
        }
        return true
    }

    /// The caller gave up on `call` (deadline): forget it and tell the server.
    func abandon(_ call: ClientCall, reason: StatusCode) {
        switch call.kind {
        case .ping:
            pings.removeValue(forKey: call.requestID)
        case .call:
            guard inFlight.removeValue(forKey: call.requestID) != nil else { return }
            wire?.send(Frame(type: .cancel, requestID: call.requestID, methodID: call.methodID, aux: reason.rawValue))
            closeIfDrained()
        }
    }

    // MARK: WireConnectionDelegate

    func wireConnectionDidBecomeReady(_ connection: WireConnection) {
        state = .ready
        failures = 0
        lastError = nil
        client.emit(endpoint, .ready(server: connection.remote ?? HelloSettings(), ms: elapsedMs()))
        client.endpointDidBecomeReady(self)
    }

    func wireConnection(_ connection: WireConnection, didReceive frame: Frame) {
        // No call: a late answer to a call we already gave up on.
        guard let call = inFlight.removeValue(forKey: frame.requestID) else { return }
        let latencyNs = noteReply(call)
        if frame.type == .response {
            client.finish(
                call,
                .success(
                    RawResponse(
                        payload: frame.payload, metadata: frame.metadata, endpoint: endpoint, latencyNs: latencyNs)
                ))
        } else {
            let code = StatusCode(rawValue: frame.aux) ?? .unknown
            let message = (try? ErrorBody(parsing: frame.payload))?.message ?? "(unreadable error body)"
            // The server enforced the budget we sent; its timer and ours race, so report it one way.
            var error =
                code == .deadlineExceeded && call.timeoutMs > 0
                ? RPCError.deadlineExceeded(afterMs: call.timeoutMs) : RPCError(code, message)
            error.notProcessed = frame.metadata[RPCError.notProcessedKey] == "1"
            client.finish(call, .failure(error))
        }
        closeIfDrained()
    }

    func wireConnection(_ connection: WireConnection, failCall requestID: UInt32, with error: RPCError) {
        guard let call = inFlight.removeValue(forKey: requestID) else { return }
        client.finish(call, .failure(error))
    }

    func wireConnection(_ connection: WireConnection, peerGoingAwayAfter lastID: UInt32, reason: String) {
        draining = true
        // Calls above lastID were not processed: send them elsewhere (gRPC GOAWAY semantics).
        let refused = inFlight.values.filter { $0.requestID > lastID || lastID == 0 }
        for call in refused {
            inFlight.removeValue(forKey: call.requestID)
            client.redispatch(call)
        }
        closeIfDrained()
    }

    func wireConnection(_ connection: WireConnection, didReceivePong value: UInt32) {
        guard let call = pings.removeValue(forKey: value) else { return }
        let latencyNs = noteReply(call)
        client.finish(
            call, .success(RawResponse(payload: [], metadata: Metadata(), endpoint: endpoint, latencyNs: latencyNs)))
    }

    func wireConnection(_ connection: WireConnection, didCloseWithReason reason: String) {
        wire = nil
        let wasReady = state == .ready
        let message = "connection to \(endpoint) lost: \(reason)"
        let calls = Array(inFlight.values) + Array(pings.values)
        inFlight.removeAll()
        pings.removeAll()
        let acknowledged = connection.acknowledgedAtClose
        for call in calls {
            // A request whose bytes the silent peer's machine never acknowledged did not run there.
            let undelivered = acknowledged.map { call.streamOffset >= $0 } ?? false
            client.finish(call, .failure(RPCError(.unavailable, message, notProcessed: undelivered)))
        }
        client.emit(endpoint, .disconnected(reason: reason))
        guard state != .closed else { return }
        lastError = reason
        if wasReady && draining {
            // An orderly drain: reconnect soon, without counting a failure.
            failures = 0
        }
        scheduleReconnect(reason: reason)
        client.endpointDidFail(self)
    }

    private func closeIfDrained() {
        if draining && inFlight.isEmpty && pings.isEmpty { wire?.closeWhenFlushed("drained by server") }
    }

    /// Closes for good: the owner fails the calls.
    func close() {
        state = .closed
        timer?.close()
        timer = nil
        connecting?.close()
        connecting = nil
        let calls = Array(inFlight.values) + Array(pings.values)
        inFlight.removeAll()
        pings.removeAll()
        for call in calls { client.finish(call, .failure(RPCError(.cancelled, "client closed"))) }
        wire?.close("client closed")
    }
}
