// HTTPServerConnection: one client connection — parse a request at a time, answer in order, time out.

import MeshLoop

/// One client connection: reads, parses one request at a time, writes answers in order.
final class HTTPServerConnection {
    private enum State {
        /// Between requests (keep-alive).
        case idle
        /// Part of a request has arrived.
        case reading
        /// The handler has a request; further input waits in `buffer`.
        case responding
        case closed
    }

    private unowned let server: HTTPServer
    private let stream: StreamConnection
    private let parser: HTTPRequestParser
    private let timer: LoopTimer
    private var state = State.idle
    private var buffer: [UInt8] = []
    private var peerDone = false
    private var closeAfterResponse = false
    private var readingStopped = false
    private var generation: UInt64 = 0
    private var inInputLoop = false
    private var answeringHead = false

    init(server: HTTPServer, stream: StreamConnection) throws(UVError) {
        self.server = server
        self.stream = stream
        parser = HTTPRequestParser(
            maxHeaderBytes: server.configuration.maxHeaderBytes, maxBodyBytes: server.configuration.maxBodyBytes)
        timer = try LoopTimer(loop: stream.loop)
    }

    var isOpen: Bool { state != .closed }

    func start() {
        stream.onRead = { [unowned self] bytes in self.didRead(bytes) }
        stream.onEOF = { [unowned self] in self.didReadEOF() }
        stream.onWritesDrained = { [unowned self] in self.didDrain() }
        stream.onClose { [self] in self.didClose() }
        stream.startReading()
        armIdleTimer()
    }

    /// Server shutdown: close when not in the middle of answering.
    func shutdown() {
        closeAfterResponse = true
        if state != .responding { closeNow() }
    }

    // MARK: Input

    private func didRead(_ bytes: UnsafeRawBufferPointer) {
        if state == .responding || !buffer.isEmpty || inInputLoop {
            buffer.append(contentsOf: bytes)
            if buffer.count > server.configuration.maxHeaderBytes + server.configuration.maxBodyBytes {
                stopReading()
            }
            if state != .responding && !inInputLoop { processBuffer() }
            return
        }
        // The common case: parse straight from the read buffer, keep only an unparsed rest.
        inInputLoop = true
        var offset = 0
        while offset < bytes.count, state == .reading || state == .idle {
            beginRequestIfIdle()
            let (used, event) = parser.parse(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
            offset += used
            if !handle(event) || event == nil { break }
        }
        inInputLoop = false
        if offset < bytes.count, state == .responding {
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset...]))
        }
    }

    private func beginRequestIfIdle() {
        guard state == .idle else { return }
        state = .reading
        armRequestTimer()
    }

    /// Parses what waits in `buffer` (pipelined requests that arrived during an answer). Handlers
    /// that answer at once do not recurse into here: the loop goes on instead.
    private func processBuffer() {
        guard !inInputLoop else { return }
        inInputLoop = true
        while !buffer.isEmpty, state == .reading || state == .idle {
            beginRequestIfIdle()
            let (used, event) = buffer.withUnsafeBytes { parser.parse($0) }
            buffer.removeFirst(used)
            if !handle(event) || event == nil { break }
        }
        inInputLoop = false
        if buffer.isEmpty, state == .idle, peerDone { return closeNow() }
        if readingStopped, state != .closed, buffer.count < server.configuration.maxHeaderBytes, !peerDone,
            stream.pendingWriteBytes <= server.configuration.maxPendingOutputBytes
        {
            readingStopped = false
            stream.startReading()
        }
    }

    /// Acts on a parser event; false when the connection is done with input.
    private func handle(_ event: HTTPRequestParser.Event?) -> Bool {
        switch event {
        case nil:
            return true
        case .continueExpected:
            stream.write(Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            return true
        case .failure(let error):
            server.countMalformed()
            fail(status: error.status, detail: error.detail)
            return false
        case .request(let request):
            state = .responding
            timer.stop()
            if !request.keepAlive || server.isClosing { closeAfterResponse = true }
            answeringHead = request.method == "HEAD"
            generation += 1
            server.dispatch(request, HTTPResponder(connection: self, generation: generation))
            return state != .closed
        }
    }

    private func didReadEOF() {
        peerDone = true
        switch state {
        case .idle:
            if buffer.isEmpty { closeNow() }
        case .reading:
            if buffer.isEmpty, case .failure(let error)? = parser.parseEOF() {
                server.countMalformed()
                fail(status: error.status, detail: error.detail)
            } else if buffer.isEmpty {
                closeNow()
            }
        case .responding, .closed:
            break
        }
    }

    // MARK: Output

    func send(_ response: HTTPResponse, generation: UInt64) {
        guard state == .responding, generation == self.generation else { return }
        var out: [UInt8] = []
        out.reserveCapacity(response.body.count + 256)
        let close = closeAfterResponse || (peerDone && buffer.isEmpty)
        response.serialize(into: &out, close: close, date: server.date.now(), headersOnly: answeringHead)
        stream.write(out)
        if close { return closeAfterLastAnswer() }
        state = .idle
        armIdleTimer()
        if stream.pendingWriteBytes > server.configuration.maxPendingOutputBytes {
            stopReading()  // the client is not reading its answers; wait for didDrain
            return
        }
        processBuffer()
    }

    private func didDrain() {
        guard state == .idle || state == .reading else { return }
        processBuffer()
    }

    /// Answers an unusable request with its error and closes.
    private func fail(status: Int, detail: String) {
        var out: [UInt8] = []
        HTTPResponse.error(status, detail).serialize(into: &out, close: true, date: server.date.now())
        stream.write(out)
        closeAfterLastAnswer()
    }

    /// Closes once the last answer is written — or after `closeWriteTimeoutMs`, when the client
    /// does not read it (its slot would otherwise be held for as long as the client likes).
    private func closeAfterLastAnswer() {
        state = .closed
        stream.closeAfterFlush()
        timer.start(afterMs: server.configuration.closeWriteTimeoutMs) { [unowned self] in
            self.server.countTimeout()
            self.stream.close()
        }
    }

    // MARK: Timers and closing

    private func armIdleTimer() {
        timer.start(afterMs: server.configuration.idleTimeoutMs) { [unowned self] in self.closeNow() }
    }

    private func armRequestTimer() {
        timer.start(afterMs: server.configuration.requestTimeoutMs) { [unowned self] in
            self.server.countTimeout()
            self.fail(
                status: 408,
                detail: "the request did not arrive within \(self.server.configuration.requestTimeoutMs) ms")
        }
    }

    private func stopReading() {
        guard !readingStopped else { return }
        readingStopped = true
        stream.stopReading()
    }

    private func closeNow() {
        state = .closed
        stream.close()
    }

    private func didClose() {
        state = .closed
        timer.close()
        server.connectionClosed(self)
    }
}
