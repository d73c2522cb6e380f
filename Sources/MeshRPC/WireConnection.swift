// WireConnection: the I/O shell around one connection — framing, handshake, keepalive, GOAWAY.

import MeshLoop
public import MeshWire

/// What a `WireConnection` reports to its owner (a server's or a client's connection).
protocol WireConnectionDelegate: AnyObject {
    func wireConnectionDidBecomeReady(_ connection: WireConnection)
    /// A call-level frame: REQUEST/CANCEL at a server, RESPONSE/ERROR at a client.
    func wireConnection(_ connection: WireConnection, didReceive frame: Frame)
    /// One of our calls cannot be completed from what arrived (oversized or malformed response).
    func wireConnection(_ connection: WireConnection, failCall requestID: UInt32, with error: RPCError)
    func wireConnection(_ connection: WireConnection, peerGoingAwayAfter lastID: UInt32, reason: String)
    func wireConnection(_ connection: WireConnection, didReceivePong value: UInt32)
    /// Called once, after the socket is closed.
    func wireConnection(_ connection: WireConnection, didCloseWithReason reason: String)
}

/// A frame crossing the wire, for `rpc-probe --dump-frames` and `-v`.
public enum FrameTrace: Sendable {
    case sentPreface(Preface)
    case receivedPreface(Preface)
    case sent(Frame)
    case received(Frame)
    case receivedOther(String)
}

final class WireConnection {
    let stream: StreamConnection
    let loop: EventLoop
    private(set) var state: ConnectionState
    private var decoder: FrameDecoder
    let local: HelloSettings
    let timeouts: ConnectionTimeouts
    /// Not retained: the delegate owns this connection and outlives it, clearing this in its
    /// `deinit` (a weak reference would give the delegate a side table, and every retain and
    /// release of it — several per call — the slow path).
    unowned(unsafe) var delegate: (any WireConnectionDelegate)?
    var tracer: ((FrameTrace) -> Void)?

    /// The smaller of both sides' max-frame once the handshake is done; until then our own.
    private(set) var negotiatedMaxFrame: UInt32
    private(set) var isClosed = false
    /// Whether we closed because the peer broke the protocol (or never spoke it).
    private(set) var closedForProtocolError = false
    private var closeReason: String?
    private var timer: LoopTimer?
    /// Frames sent outside a read callback — a worker starting a batch of calls from one Redis
    /// reply, answers completing on the thread pool — are held until the loop turn's callbacks
    /// are done, so they leave in one write instead of one system call each.
    private var turnEnd: LoopIdle?
    private var lastActivityMs: UInt64
    private var pingSentAtMs: UInt64?
    /// Set while `probe` waits for any answer; its waiters.
    private var probeTimer: LoopTimer?
    private var probeWaiters: [(Bool) -> Void] = []
    private var pingCounter: UInt32 = 0
    private var readPaused = false
    private var startedAtMs: UInt64 = 0

    var isReady: Bool { state.phase == .open }
    var remote: HelloSettings? { state.remote }

    init(stream: StreamConnection, role: ConnectionState.Role, local: HelloSettings, timeouts: ConnectionTimeouts) {
        self.stream = stream
        self.loop = stream.loop
        self.state = ConnectionState(role: role)
        self.decoder = FrameDecoder(expectPreface: true, maxBodyLength: local.maxFrame)
        self.local = local
        self.timeouts = timeouts
        self.negotiatedMaxFrame = local.maxFrame
        self.lastActivityMs = stream.loop.nowMs
    }

    /// Starts reading; a client also sends its preface and HELLO at once (calls may follow right away).
    func start() {
        turnEnd = try? LoopIdle(loop: loop)
        // The open stream keeps this connection alive through its callbacks, as an open libuv
        // handle keeps its owner (the stream drops them when it closes); no weak or unowned
        // reference to load on every read.
        stream.onRead = { bytes in self.didRead(bytes) }
        stream.onWritesDrained = { self.resumeReading() }
        stream.onClose { self.didClose() }
        if state.role == .client {
            stream.cork()
            sendPreface()
            send(Frame(type: .hello, metadata: local.metadata))
            stream.uncork()
        }
        startedAtMs = loop.nowMs
        stream.startReading()
        startTimer()
    }

    // MARK: Sending

    func send(_ frame: Frame) {
        guard !isClosed else { return }
        tracer?(.sent(frame))
        holdUntilTurnEnd()
        stream.write { frame.encode(into: &$0) }
    }

    private func holdUntilTurnEnd() {
        // A corked stream holds writes already: inside a read callback it sends them when the
        // callback returns (an answer to the frame just read must not wait for the turn's end),
        // and a hold already under way is itself a cork.
        guard !stream.isCorked, let turnEnd, !stream.isClosing else { return }
        stream.cork()
        turnEnd.runOnce { self.stream.uncork() }
    }

    func sendError(
        requestID: UInt32, methodID: UInt32, _ code: StatusCode, _ message: String, metadata: Metadata = Metadata()
    ) {
        send(
            Frame(
                type: .error, requestID: requestID, methodID: methodID, aux: code.rawValue, metadata: metadata,
                payload: ErrorBody(message: message).bytes))
    }

    private func sendPreface() {
        tracer?(.sentPreface(Preface()))
        stream.write(Preface().bytes)
    }

    /// Sends PING with `value`; the PONG is reported to the delegate.
    func ping(value: UInt32) { send(Frame(type: .ping, aux: value)) }

    /// The stream offset at which the next frame starts.
    var bytesQueued: UInt64 { stream.bytesQueued }

    /// Set when the connection was dropped because the peer went silent: the stream offset up to
    /// which the peer's machine had acknowledged our bytes. A request that starts at or past it
    /// never reached the peer (the reset dropped it), so it was not processed.
    private(set) var acknowledgedAtClose: UInt64?

    /// Reads from the peer so far: unchanged since a call went out means the peer has been silent.
    private(set) var reads: UInt64 = 0

    /// A call's deadline passed and the peer has said nothing since it was sent: ask now whether
    /// it is there at all (a PING). `then(true)` when anything arrives within `timeoutMs`; else
    /// the connection is reset and `then(false)` runs after its calls were failed. A silent
    /// partition or a stalled host then costs one deadline before calls go elsewhere, not the
    /// keepalive's interval plus its timeout.
    func probe(timeoutMs: UInt64, then: @escaping (Bool) -> Void) {
        guard !isClosed, !stream.isClosing else { return then(false) }
        probeWaiters.append(then)
        guard probeTimer == nil, let t = try? LoopTimer(loop: loop) else { return }
        probeTimer = t
        pingCounter &+= 1
        ping(value: pingCounter)
        t.start(afterMs: timeoutMs) { [weak self] in
            guard let self, !self.stream.isClosing else { return }
            self.acknowledgedAtClose = self.stream.bytesAcknowledged
            self.closeReason = "peer silent: no answer to a PING \(timeoutMs) ms after a call's deadline passed"
            self.stream.reset()
            self.probeEnded(alive: false)
        }
    }

    /// Answers the probe's waiters: alive at the first bytes from the peer, or not.
    private func probeEnded(alive: Bool) {
        probeTimer?.close()
        probeTimer = nil
        let waiters = probeWaiters
        probeWaiters = []
        for waiter in waiters { waiter(alive) }
    }

    /// Tells the peer no request above `lastID` will be processed (graceful drain).
    func sendGoaway(lastID: UInt32, reason: String) {
        send(Frame(type: .goaway, aux: lastID, payload: ErrorBody(message: reason).bytes))
    }

    /// Sends GOAWAY with `reason`, then closes once it is written (or after the linger time).
    func fail(_ reason: String, lastID: UInt32 = 0) {
        guard !isClosed, !stream.isClosing else { return }
        closeReason = reason
        closedForProtocolError = true
        if state.phase == .awaitingPreface && state.role == .server {
            // The peer never spoke our protocol: answer in it anyway so tools can show the reason.
            sendPreface()
        }
        sendGoaway(lastID: lastID, reason: reason)
        stream.stopReading()
        stream.closeAfterFlush()
        timer?.start(afterMs: timeouts.lingerMs) { [unowned self] in self.close(reason) }
    }

    /// Closes now; queued writes are dropped.
    func close(_ reason: String) {
        guard !stream.isClosing else { return }
        if closeReason == nil { closeReason = reason }
        stream.close()
    }

    /// Closes once queued writes have left.
    func closeWhenFlushed(_ reason: String) {
        if closeReason == nil { closeReason = reason }
        stream.closeAfterFlush()
    }

    // MARK: Receiving

    private func didRead(_ bytes: UnsafeRawBufferPointer) {
        lastActivityMs = loop.nowMs
        reads &+= 1
        pingSentAtMs = nil
        if probeTimer != nil { probeEnded(alive: true) }
        decoder.feed(bytes)
        while !isClosed && !stream.isClosing {
            let event: FrameDecoder.Event?
            do {
                event = try decoder.next()
            } catch {
                return fail(describe(error))
            }
            guard let event else { break }
            trace(event)
            perform(state.receive(event))
        }
        if stream.pendingWriteBytes > timeouts.writeBacklogLimit && !readPaused && !stream.isClosing {
            // The peer is not reading our answers: stop taking its requests until it does.
            readPaused = true
            stream.stopReading()
        }
    }

    private func resumeReading() {
        guard readPaused, !stream.isClosing else { return }
        readPaused = false
        stream.startReading()
    }

    private func describe(_ error: WireError) -> String {
        if case .httpPeer(let line) = error { return "not an alertmesh endpoint (got HTTP: \(line))" }
        return error.description
    }

    private func trace(_ event: FrameDecoder.Event) {
        guard let tracer else { return }
        switch event {
        case .preface(let p): tracer(.receivedPreface(p))
        case .frame(let f): tracer(.received(f))
        case .oversized(let h):
            tracer(.receivedOther("\(h.type) id=\(h.requestID) body=\(h.bodyLength) B (oversized, skipped)"))
        case .unknownType(let raw, let id, _):
            tracer(.receivedOther("unknown type 0x\(String(raw, radix: 16)) id=\(id)"))
        case .malformed(let h, let e): tracer(.receivedOther("\(h.type) id=\(h.requestID) malformed: \(e)"))
        }
    }

    private func perform(_ action: ConnectionState.Action) {
        switch action {
        case .none:
            break
        case .ready(let remote, let sendAck):
            negotiatedMaxFrame = min(local.maxFrame, remote.maxFrame)
            decoder.maxBodyLength = negotiatedMaxFrame
            if sendAck {
                stream.cork()
                sendPreface()
                send(Frame(type: .helloAck, metadata: local.metadata))
                stream.uncork()
            }
            delegate?.wireConnectionDidBecomeReady(self)
        case .deliver(let frame):
            delegate?.wireConnection(self, didReceive: frame)
        case .sendPong(let value):
            send(Frame(type: .pong, aux: value))
        case .pongReceived(let value):
            delegate?.wireConnection(self, didReceivePong: value)
        case .peerGoaway(let lastID, let reason):
            delegate?.wireConnection(self, peerGoingAwayAfter: lastID, reason: reason)
        case .answerError(let requestID, let methodID, let code, let message):
            sendError(requestID: requestID, methodID: methodID, code, message)
        case .failCall(let requestID, let code, let message):
            delegate?.wireConnection(self, failCall: requestID, with: RPCError(code, message))
        case .protocolError(let reason):
            fail("protocol error: " + reason)
        }
    }

    // MARK: Timers: handshake deadline and keepalive

    private func startTimer() {
        guard let t = try? LoopTimer(loop: loop) else { return }
        timer = t
        let period = max(
            50, min(timeouts.handshakeMs, local.pingIntervalMs == 0 ? 1_000 : UInt64(local.pingIntervalMs) / 2))
        t.start(afterMs: period, repeatMs: period) { [unowned self] in self.tick() }
    }

    private func tick() {
        let now = loop.nowMs
        if state.phase != .open {
            if now - startedAtMs >= timeouts.handshakeMs {
                fail("handshake not completed within \(timeouts.handshakeMs) ms")
            }
            return
        }
        guard local.pingIntervalMs > 0 else { return }
        if let sent = pingSentAtMs {
            if now - sent >= timeouts.pingTimeoutMs {
                close("keepalive: no answer to PING within \(timeouts.pingTimeoutMs) ms")
            }
        } else if now - lastActivityMs >= UInt64(local.pingIntervalMs) {
            pingCounter &+= 1
            pingSentAtMs = now
            ping(value: pingCounter)
        }
    }

    private func didClose() {
        isClosed = true
        timer?.close()
        timer = nil
        probeEnded(alive: false)
        turnEnd?.close()
        turnEnd = nil
        stream.onRead = nil
        stream.onWritesDrained = nil
        var reason =
            closeReason ?? stream.securityFailure ?? stream.closeReason.map {
                "connection lost: \($0.name) (\($0.message))"
            }
            ?? (stream.sawEOF ? "connection closed by peer" : "connection closed")
        // What a TLS server does to a plaintext client: it hangs up without a word we can read.
        let hungUp = state.phase != .open && stream.bytesRead == 0 && stream.sawEOF && closeReason == nil
        if hungUp && state.role == .client && stream.transport == .tcp && stream.securityFailure == nil {
            reason += " before the handshake (if the server requires TLS: --tls-cert, --tls-key, --tls-ca)"
        }
        delegate?.wireConnection(self, didCloseWithReason: reason)
    }
}
