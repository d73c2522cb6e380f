// StreamConnection: one TCP or Unix-domain stream, with corked writes and a reusable read buffer.

internal import CLibUV
import Glibc

/// A connected byte stream (`uv_tcp_t` or `uv_pipe_t`).
///
/// Reads arrive through `onRead` as a buffer that is valid only during the call (copy what you keep).
/// Writes go to an outbound buffer: outside a read callback they are flushed at once; inside one
/// (or between `cork()` and `uncork()`) they are coalesced into one write, so a batch of pipelined
/// responses leaves in a single syscall. Each write first tries `uv_try_write`; only what the kernel
/// does not take is copied into a `uv_write` request.
public final class StreamConnection: LoopHandle {
    public enum Transport: Sendable { case tcp, unix }

    public let transport: Transport
    /// Called with each chunk read. The buffer is only valid during the call.
    public var onRead: ((UnsafeRawBufferPointer) -> Void)?
    /// Why the connection closed: nil for a local close or the peer's orderly EOF.
    public private(set) var closeReason: UVError?
    /// Whether the peer ended the stream (EOF) before the close.
    public private(set) var sawEOF = false
    public private(set) var bytesRead: UInt64 = 0
    public private(set) var bytesWritten: UInt64 = 0

    static let readBufferSize = 64 * 1024

    /// Called when every queued byte has been handed to the kernel (after writes had queued up).
    public var onWritesDrained: (() -> Void)?
    /// When set, the peer's EOF (a half-close) stops reading and calls this instead of closing, so
    /// the owner can still answer (HTTP: a client that shut down its side after the request).
    public var onEOF: (() -> Void)?

    var readBuffer: UnsafeMutableRawPointer?
    /// Bytes for the socket. Without a security layer, what users write goes here directly.
    var outbound: [UInt8] = []
    /// With a security layer: what users wrote, waiting for the handshake or to be sealed.
    var plaintext: [UInt8] = []
    var security: (any StreamSecurity)?
    /// Why the security layer gave up on this stream (a refused certificate, a non-TLS peer).
    public internal(set) var securityFailure: String?
    /// Called once, when the security layer's handshake is done.
    public var onSecured: (() -> Void)?
    /// Under a security layer: plaintext bytes sealed so far, and for recent records where their
    /// plaintext begins and where they lie on the wire, so an acknowledged wire offset can be told
    /// in plaintext terms (`bytesAcknowledged`). Only the newest records matter — the
    /// unacknowledged tail — so old marks are dropped; a lost mark errs towards "delivered".
    var sealedPlaintext: UInt64 = 0
    var sealMarks: [(plain: UInt64, wireStart: UInt64, wireEnd: UInt64)] = []
    private var writeInFlight = false
    private var writeInFlightBytes = 0
    var corkDepth = 0
    private var closeWhenFlushed = false

    var stream: UnsafeMutablePointer<uv_stream_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_stream_t.self)
    }

    /// Creates an unconnected stream handle of `transport`'s kind.
    init(loop: EventLoop, transport: Transport) throws(UVError) {
        self.transport = transport
        let raw: UnsafeMutableRawPointer
        switch transport {
        case .tcp:
            let t = try initializedHandle(uv_tcp_t.self, "uv_tcp_init") { uv_tcp_init(loop.uv, $0) }
            raw = UnsafeMutableRawPointer(t)
        case .unix:
            let p = try initializedHandle(uv_pipe_t.self, "uv_pipe_init") { uv_pipe_init(loop.uv, $0, 0) }
            raw = UnsafeMutableRawPointer(p)
        }
        super.init(loop: loop, handle: raw)
    }

    /// Starts connecting to `endpoint`; `completion` runs once, on the loop (with `ECANCELED` if the
    /// connection is closed first). Names are resolved on libuv's thread pool, never on the loop.
    ///
    /// - Returns: the connection, usable for writes only after a successful completion.
    public static func connect(
        loop: EventLoop, to endpoint: Endpoint, _ completion: @escaping (Result<Void, UVError>) -> Void
    ) throws(UVError) -> StreamConnection {
        switch endpoint {
        case .unix(let path):
            let conn = try StreamConnection(loop: loop, transport: .unix)
            let req = ConnectRequest.make(conn, endpoint: endpoint, completion)
            uv_pipe_connect(req, UnsafeMutableRawPointer(conn.handle).assumingMemoryBound(to: uv_pipe_t.self), path) {
                ConnectRequest.finish($0, $1)
            }
            return conn
        case .tcp(let host, let port):
            let conn = try StreamConnection(loop: loop, transport: .tcp)
            SocketAddress.resolve(host: host, port: port, loop: loop) { result in
                switch result {
                case .failure(let error):
                    completion(.failure(error))
                case .success(let address):
                    guard !conn.isClosing else {
                        return completion(.failure(UVError(code: UVError.canceled, operation: "connect \(endpoint)")))
                    }
                    let req = ConnectRequest.make(conn, endpoint: endpoint, completion)
                    let tcp = UnsafeMutableRawPointer(conn.handle).assumingMemoryBound(to: uv_tcp_t.self)
                    uv_tcp_nodelay(tcp, 1)
                    let rc = address.withSockaddr { sa in uv_tcp_connect(req, tcp, sa) { ConnectRequest.finish($0, $1) }
                    }
                    if rc < 0 { ConnectRequest.finish(req, rc) }  // report it as the callback would have
                }
            }
            return conn
        }
    }

    /// Accepts a pending connection from `server` (used by `StreamListener`).
    static func accept(from server: UnsafeMutablePointer<uv_stream_t>, loop: EventLoop, transport: Transport)
        throws(UVError)
        -> StreamConnection
    {
        let conn = try StreamConnection(loop: loop, transport: transport)
        let rc = uv_accept(server, conn.stream)
        if rc < 0 {
            conn.close()
            throw UVError(code: rc, operation: "uv_accept")
        }
        if transport == .tcp {
            uv_tcp_nodelay(UnsafeMutableRawPointer(conn.handle).assumingMemoryBound(to: uv_tcp_t.self), 1)
        }
        return conn
    }

    // MARK: Reading

    /// Starts delivering reads to `onRead`. EOF or a read error closes the connection.
    public func startReading() {
        loop.assertInLoop()
        guard !isClosing else { return }
        if readBuffer == nil {
            readBuffer = .allocate(byteCount: StreamConnection.readBufferSize, alignment: 16)
        }
        let rc = uv_read_start(
            stream,
            { h, _, buf in
                let conn = LoopHandle.owner(h, as: StreamConnection.self)
                buf!.pointee = CLibUV_buf(conn.readBuffer, StreamConnection.readBufferSize)
            },
            { s, nread, _ in LoopHandle.owner(s, as: StreamConnection.self).didRead(nread) })
        if rc < 0 { fail(UVError(code: rc, operation: "uv_read_start")) }
    }

    /// Stops reading (backpressure); `startReading()` resumes.
    public func stopReading() {
        guard !isClosing else { return }
        uv_read_stop(stream)
    }

    private func didRead(_ nread: Int) {
        if nread > 0 {
            bytesRead += UInt64(nread)
            loop.busyPolling?.noteRead()
            cork()
            let bytes = UnsafeRawBufferPointer(start: readBuffer, count: nread)
            if let security { open(bytes, with: security) } else { onRead?(bytes) }
            uncork()
        } else if nread < 0 {
            if Int32(nread) == UVError.eof {
                didReachEOF()
            } else {
                fail(UVError(code: Int32(nread), operation: "read"))
            }
        }
    }

    func didReachEOF() {
        sawEOF = true
        if let onEOF {
            uv_read_stop(stream)
            onEOF()
        } else {
            close()
        }
    }

    // MARK: Writing

    /// Bytes accepted by `write` but not yet taken by the kernel (buffered or in a `uv_write`).
    /// Owners stop reading while this is high, so a peer that never reads cannot grow our memory.
    public var pendingWriteBytes: Int { outbound.count + writeInFlightBytes + plaintext.count }
    /// Plaintext written but not sealed yet (waiting for the handshake or the next flush).
    var pendingPlaintext: Int { plaintext.count }

    /// Queues `bytes`; flushed now unless corked.
    public func write(_ bytes: [UInt8]) {
        write { $0.append(contentsOf: bytes) }
    }

    /// Lets `body` append straight into the outbound buffer (no intermediate copy); flushed unless corked.
    public func write(with body: (inout [UInt8]) -> Void) {
        guard !isClosing, securityFailure == nil else { return }
        if security == nil { body(&outbound) } else { body(&plaintext) }
        if corkDepth == 0 { flush() }
    }

    /// Holds writes back until the matching `uncork()`, so they leave in one syscall.
    public func cork() { corkDepth += 1 }

    /// Whether writes are being held (inside a read callback, or between `cork()` and `uncork()`).
    public var isCorked: Bool { corkDepth > 0 }

    public func uncork() {
        corkDepth -= 1
        if corkDepth == 0 { flush() }
    }

    /// Closes once everything queued has been written (or at once if nothing is).
    public func closeAfterFlush() {
        guard !isClosing else { return }
        closeWhenFlushed = true
        flush()
        if !writeInFlight && outbound.isEmpty { close() }
    }

    /// Hands the outbound buffer to the kernel: `uv_try_write` first, a `uv_write` for the rest.
    public func flush() {
        guard !isClosing, !writeInFlight else { return }
        if let security, !plaintext.isEmpty, security.isEstablished, securityFailure == nil {
            if let error = seal(plaintext, with: security) { return failSecurity(error) }
            sealedPlaintext += UInt64(plaintext.count)
            plaintext.removeAll(keepingCapacity: plaintext.capacity <= 1 << 20)
        }
        guard !outbound.isEmpty else { return }
        let written = outbound.withUnsafeMutableBytes { raw -> Int32 in
            var buf = CLibUV_buf(raw.baseAddress, raw.count)
            return uv_try_write(stream, &buf, 1)
        }
        var offset = 0
        if written > 0 {
            offset = Int(written)
            bytesWritten += UInt64(written)
        } else if written < 0 && written != UVError.tryAgain {
            return fail(UVError(code: written, operation: "write"))
        }
        if offset == outbound.count {
            resetOutbound()
            if closeWhenFlushed { return close() }
            onWritesDrained?()
            return
        }
        let count = outbound.count - offset
        let memory = UnsafeMutableRawPointer.allocate(byteCount: count, alignment: 1)
        outbound.withUnsafeBytes { raw in memory.copyMemory(from: raw.baseAddress! + offset, byteCount: count) }
        resetOutbound()
        let request = WriteRequest(connection: self, memory: memory, count: count)
        let req = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(request).toOpaque()
        var buf = CLibUV_buf(memory, count)
        writeInFlight = true
        writeInFlightBytes = count
        let rc = uv_write(req, stream, &buf, 1) { req, status in
            let request = Unmanaged<WriteRequest>.fromOpaque(req!.pointee.data).takeRetainedValue()
            req!.deallocate()
            request.finish(status: status)
        }
        if rc < 0 {
            writeInFlight = false
            writeInFlightBytes = 0
            Unmanaged<WriteRequest>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            fail(UVError(code: rc, operation: "uv_write"))
        }
    }

    private func resetOutbound() {
        // Keep a modest buffer for the next batch; give back a large one.
        if outbound.capacity > 1 << 20 { outbound = [] } else { outbound.removeAll(keepingCapacity: true) }
    }

    fileprivate func didWrite(count: Int, status: Int32) {
        writeInFlight = false
        writeInFlightBytes = 0
        if status < 0 {
            if status != UVError.canceled { fail(UVError(code: status, operation: "write")) }
            return
        }
        bytesWritten += UInt64(count)
        flush()
        if !writeInFlight && outbound.isEmpty {
            if closeWhenFlushed { return close() }
            onWritesDrained?()
        }
    }

    // MARK: Closing

    /// Closes with `error` as the reason.
    public func fail(_ error: UVError) {
        guard !isClosing else { return }
        closeReason = error
        close()
    }

    override func willClose() {
        onRead = nil
        onWritesDrained = nil
        onEOF = nil
        onSecured = nil
    }

    override func didClose() {
        readBuffer?.deallocate()
        readBuffer = nil
        outbound = []
        plaintext = []
        security = nil
    }
}

/// A `uv_write` in flight: owns the bytes until libuv is done with them.
private final class WriteRequest {
    let connection: StreamConnection
    let memory: UnsafeMutableRawPointer
    let count: Int

    init(connection: StreamConnection, memory: UnsafeMutableRawPointer, count: Int) {
        self.connection = connection
        self.memory = memory
        self.count = count
    }

    func finish(status: Int32) {
        memory.deallocate()
        connection.didWrite(count: count, status: status)
    }
}
