// UDPSender: fire-and-forget datagrams to one destination, never blocking the loop.

internal import CLibUV
import Glibc

/// Sends datagrams to one host:port (`uv_udp_t`).
///
/// `send` tries `uv_udp_try_send` first; if the socket buffer is full it queues a copy with
/// `uv_udp_send`, up to `maxQueuedDatagrams`, and drops beyond that (counted), so a slow or absent
/// receiver can never make memory grow.
public final class UDPSender: LoopHandle {
    public let destination: Endpoint
    private let address: SocketAddress
    public var maxQueuedDatagrams = 256
    public private(set) var datagramsSent: UInt64 = 0
    public private(set) var bytesSent: UInt64 = 0
    public private(set) var datagramsDropped: UInt64 = 0
    public private(set) var lastError: UVError?
    private var queued = 0

    /// Resolves `host` now (a start-up step) and opens the socket.
    public init(loop: EventLoop, host: String, port: UInt16) throws(UVError) {
        destination = .tcp(host: host, port: port)
        address = try SocketAddress.resolveBlocking(host: host, port: port, loop: loop)
        let u = try initializedHandle(uv_udp_t.self, "uv_udp_init") { uv_udp_init(loop.uv, $0) }
        super.init(loop: loop, handle: u)
    }

    private var udp: UnsafeMutablePointer<uv_udp_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_udp_t.self)
    }

    /// Sends one datagram. Returns false if it was dropped (queue full or an error).
    @discardableResult
    public func send(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !isClosing else { return false }
        var buf = CLibUV_buf(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        let rc = address.withSockaddr { uv_udp_try_send(udp, &buf, 1, $0) }
        if rc >= 0 {
            datagramsSent += 1
            bytesSent += UInt64(bytes.count)
            return true
        }
        guard rc == UVError.tryAgain, queued < maxQueuedDatagrams else {
            if rc != UVError.tryAgain { lastError = UVError(code: rc, operation: "uv_udp_try_send") }
            datagramsDropped += 1
            return false
        }
        let request = SendRequest(sender: self, bytes: bytes)
        let req = UnsafeMutablePointer<uv_udp_send_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(request).toOpaque()
        var qbuf = CLibUV_buf(request.memory, bytes.count)
        let sent = address.withSockaddr {
            uv_udp_send(req, udp, &qbuf, 1, $0) { req, status in
                let request = Unmanaged<SendRequest>.fromOpaque(req!.pointee.data).takeRetainedValue()
                req!.deallocate()
                request.finish(status: status)
            }
        }
        if sent < 0 {
            Unmanaged<SendRequest>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            lastError = UVError(code: sent, operation: "uv_udp_send")
            datagramsDropped += 1
            return false
        }
        queued += 1
        return true
    }

    public func send(_ bytes: [UInt8]) -> Bool { bytes.withUnsafeBytes { send($0) } }

    fileprivate func didSend(count: Int, status: Int32) {
        queued -= 1
        if status < 0 {
            if status != UVError.canceled { lastError = UVError(code: status, operation: "uv_udp_send") }
            datagramsDropped += 1
        } else {
            datagramsSent += 1
            bytesSent += UInt64(count)
        }
    }
}

private final class SendRequest {
    let sender: UDPSender
    let memory: UnsafeMutableRawPointer
    let count: Int

    init(sender: UDPSender, bytes: UnsafeRawBufferPointer) {
        self.sender = sender
        count = bytes.count
        memory = .allocate(byteCount: max(1, bytes.count), alignment: 1)
        if let base = bytes.baseAddress { memory.copyMemory(from: base, byteCount: bytes.count) }
    }

    func finish(status: Int32) {
        memory.deallocate()
        sender.didSend(count: count, status: status)
    }
}
