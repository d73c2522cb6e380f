// ServerConnection: one accepted connection — dispatches its requests and tracks its calls.

import Logging
import MeshLoop
import MeshTLS
import MeshWire

final class ServerConnection: WireConnectionDelegate {
    let wire: WireConnection
    /// Strong: the server keeps its connections until they close (`connectionDidClose`), so the
    /// cycle ends there, and the several uses per call need no unowned-reference check.
    let server: RPCServer
    var loop: EventLoop { wire.loop }
    private(set) var inFlight = CallTable<ServerCall>()
    private(set) var lastAcceptedID: UInt32 = 0
    private(set) var draining = false
    /// The listener it came in on, and the peer's address (TCP), for log lines.
    let listener: String
    let peer: String?
    /// Over TLS: the session, whose verified certificate names the caller.
    let session: TLSSession?
    /// Per method (by stats slot), whether this connection's identity may call it: 0 not yet
    /// decided, 1 yes, 2 no. The identity is fixed for the connection's life, so the policy is
    /// read once per method, not per call.
    private var permissions: [UInt8] = []
    /// How soon the caller's next request has lately followed our last answer (`MessagePace`): a
    /// caller in a quick exchange gets a loop that spins for it instead of sleeping. Measured
    /// from when nothing was left in flight to a request in a later read — requests that came in
    /// one read (a pipelined batch) are not an exchange.
    private var requestPace = MessagePace()
    private var idleSinceNs: UInt64 = 0
    private var idleAtRead: UInt64 = 0

    init(stream: StreamConnection, server: RPCServer, listener: String, peer: String?, session: TLSSession?) {
        self.server = server
        self.listener = listener
        self.peer = peer
        self.session = session
        wire = WireConnection(
            stream: stream, role: .server, local: server.helloSettings, timeouts: server.configuration.timeouts)
        wire.delegate = self
    }

    deinit { wire.delegate = nil }

    func start() {
        if let session { wire.stream.secure(with: session) }
        wire.start()
    }

    private var logMetadata: Logger.Metadata {
        var m: Logger.Metadata = ["listener": "\(listener)"]
        if let peer { m["peer_address"] = "\(peer)" }
        if let identity = session?.peerIdentity { m["identity"] = "\(identity)" }
        return m
    }

    // MARK: WireConnectionDelegate

    func wireConnectionDidBecomeReady(_ connection: WireConnection) {
        var metadata = logMetadata
        metadata["peer"] = "\(connection.remote?.peer ?? "?")"
        server.logger.debug("rpc connection ready", metadata: metadata)
    }

    func wireConnection(_ connection: WireConnection, didReceive frame: Frame) {
        switch frame.type {
        case .request: dispatch(frame)
        case .cancel: cancel(frame.requestID)
        default: break  // the state machine delivers nothing else to a server
        }
    }

    func wireConnection(_ connection: WireConnection, failCall requestID: UInt32, with error: RPCError) {}

    func wireConnection(_ connection: WireConnection, peerGoingAwayAfter lastID: UInt32, reason: String) {
        // The client will send nothing more: finish what is running, then close.
        beginDrain(sendGoaway: false)
    }

    func wireConnection(_ connection: WireConnection, didReceivePong value: UInt32) {}

    func wireConnection(_ connection: WireConnection, didCloseWithReason reason: String) {
        for call in inFlight.values {
            server.deadlines.remove(call)
            call.abandon()
            server.record(call, status: .cancelled)
        }
        inFlight.removeAll()
        if connection.closedForProtocolError || connection.stream.securityFailure != nil {
            server.stats.protocolErrors += 1
            var metadata = logMetadata
            metadata["reason"] = "\(reason)"
            server.logger.notice("rpc connection refused", metadata: metadata)
        } else {
            server.logger.debug("rpc connection closed", metadata: ["reason": "\(reason)"])
        }
        // The server lets go of us here; the connection calls us through an unretained reference.
        withExtendedLifetime(self) { server.connectionDidClose(self) }
    }

    // MARK: Calls

    private func dispatch(_ frame: Frame) {
        let id = frame.requestID
        if idleSinceNs != 0 {
            if wire.reads != idleAtRead { requestPace.note(EventLoop.hrtimeNs() &- idleSinceNs) }
            idleSinceNs = 0
            loop.endAwait()
        }
        guard !draining else {
            return wire.sendError(
                requestID: id, methodID: frame.methodID, .unavailable, "server is shutting down; not processed",
                metadata: RPCError.notProcessedMetadata)
        }
        guard let registration = server.registrations[frame.methodID] else {
            server.stats.record(method: "<unknown>", status: .unimplemented, latencyNs: 0)
            return wire.sendError(
                requestID: id, methodID: frame.methodID, .unimplemented,
                "unknown method \(MethodID(rawValue: frame.methodID)) (see _sys.Reflection/List)")
        }
        if let session, !permits(registration, session) {
            server.stats.record(slot: registration.statsSlot, status: .permissionDenied, latencyNs: 0)
            var metadata = logMetadata
            metadata["method"] = "\(registration.descriptor.fullName)"
            server.logger.warning("rpc call refused: permission denied", metadata: metadata)
            let who = session.peerIdentity.map { "identity \($0)" } ?? "a certificate without an alertmesh:// identity"
            return wire.sendError(
                requestID: id, methodID: frame.methodID, .permissionDenied,
                "\(who) may not call \(registration.descriptor.fullName); not processed",
                metadata: RPCError.notProcessedMetadata)
        }
        let limit = server.configuration.maxConcurrentCallsPerConnection
        guard limit == 0 || inFlight.count < limit else {
            server.stats.record(slot: registration.statsSlot, status: .unavailable, latencyNs: 0)
            return wire.sendError(
                requestID: id, methodID: frame.methodID, .unavailable,
                "too many concurrent calls on this connection (limit \(limit)); not processed",
                metadata: RPCError.notProcessedMetadata)
        }
        let codec: ServerCall.Codec =
            frame.metadata["content-type"] == "application/json" ? .json : .binary
        let call = ServerCall(
            requestID: id, registration: registration, metadata: frame.metadata, budgetMs: frame.aux,
            codec: codec, oneway: frame.flags.contains(.oneway), connection: self)
        if inFlight.insert(call, for: id) != nil {
            call.abandon()
            return wire.fail("protocol error: request id \(id) reused while in flight", lastID: lastAcceptedID)
        }
        lastAcceptedID = id
        server.stats.callsInFlight += 1
        if frame.aux > 0 {
            server.scheduleDeadline(call, atMs: loop.nowMs + UInt64(frame.aux))
        }
        registration.invoke(frame.payload, call)
    }

    private func permits(_ registration: RPCServer.Registration, _ session: TLSSession) -> Bool {
        let slot = registration.statsSlot
        if slot >= permissions.count { permissions += Array(repeating: 0, count: slot + 1 - permissions.count) }
        if permissions[slot] == 0 {
            let ok = server.configuration.accessPolicy.permits(session.peerIdentity, registration.descriptor)
            permissions[slot] = ok ? 1 : 2
        }
        return permissions[slot] == 1
    }

    private func cancel(_ id: UInt32) {
        guard let call = inFlight.removeValue(forKey: id) else { return }
        server.deadlines.remove(call)
        call.abandon()
        server.stats.callsInFlight -= 1
        server.record(call, status: .cancelled)
        drainStepIfIdle()
    }

    /// Sends the answer of `call` (unless it is oneway) and forgets it.
    func finish(_ call: ServerCall, with result: Result<([UInt8], Metadata), RPCError>) {
        guard inFlight.removeValue(forKey: call.requestID) != nil else { return call.markFinished() }
        defer { awaitNextRequestIfIdle() }
        call.markFinished()
        server.deadlines.remove(call)
        server.stats.callsInFlight -= 1
        let methodID = call.method.id.rawValue
        switch result {
        case .success(let (payload, metadata)):
            if !call.oneway {
                if payload.count + (metadata.isEmpty ? 0 : metadata.encodedSize) > Int(wire.negotiatedMaxFrame) {
                    let error = RPCError(
                        .resourceExhausted,
                        "response of \(payload.count) bytes exceeds the connection's frame limit \(wire.negotiatedMaxFrame)"
                    )
                    wire.sendError(requestID: call.requestID, methodID: methodID, error.code, error.message)
                    server.record(call, status: error.code)
                    return drainStepIfIdle()
                }
                wire.send(
                    Frame(
                        type: .response, requestID: call.requestID, methodID: methodID, metadata: metadata,
                        payload: payload))
            }
            server.record(call, status: .ok)
        case .failure(let error):
            if !call.oneway {
                wire.sendError(requestID: call.requestID, methodID: methodID, error.code, error.message)
            }
            server.record(call, status: error.code)
        }
        drainStepIfIdle()
    }

    /// The deadline of `call` passed: answer DEADLINE_EXCEEDED and drop its late answer.
    func expire(_ call: ServerCall) {
        guard inFlight.removeValue(forKey: call.requestID) != nil else { return }
        call.abandon()
        server.stats.callsInFlight -= 1
        if !call.oneway {
            wire.sendError(
                requestID: call.requestID, methodID: call.method.id.rawValue, .deadlineExceeded,
                "deadline of \(call.budgetMs) ms exceeded at the server")
        }
        server.record(call, status: .deadlineExceeded)
        drainStepIfIdle()
    }

    // MARK: Drain

    /// Stops taking calls: GOAWAY (unless the peer started it), finish in-flight, then close.
    func beginDrain(sendGoaway: Bool) {
        guard !draining else { return }
        draining = true
        if sendGoaway && wire.isReady {
            wire.sendGoaway(lastID: lastAcceptedID, reason: "server is shutting down")
        }
        drainStepIfIdle()
    }

    /// Nothing in flight after an answer: await the caller's next request, spinning for it if it
    /// has lately come fast.
    private func awaitNextRequestIfIdle() {
        guard inFlight.isEmpty, !draining, loop.isAdaptivePolling else { return }
        idleSinceNs = EventLoop.hrtimeNs()
        idleAtRead = wire.reads
        requestPace.awaitNext(on: loop)
    }

    private func drainStepIfIdle() {
        if draining && inFlight.isEmpty { wire.closeWhenFlushed("drained") }
    }

    func forceClose() { wire.close("server shut down before the call finished") }
}
