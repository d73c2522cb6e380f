// StreamConnection+Delivery: how far our bytes got — queued, acknowledged by the peer's machine —
// and a reset that drops what did not arrive.

internal import CLibUV
import Glibc

extension StreamConnection {
    /// Every byte `write` ever accepted: the offset in the stream at which the next write starts
    /// (under a security layer, in plaintext: what our users wrote).
    public var bytesQueued: UInt64 {
        security == nil ? bytesWritten + UInt64(pendingWriteBytes) : sealedPlaintext + UInt64(pendingPlaintext)
    }

    /// The offset up to which the peer's TCP has acknowledged our bytes — what reached the peer
    /// machine; nil off TCP or when the kernel cannot say. Under a security layer it is the
    /// plaintext offset where the first record not acknowledged whole begins: the peer cannot
    /// open a record it has in part, so nothing from there on was read there.
    public var bytesAcknowledged: UInt64? {
        guard transport == .tcp, !isClosing else { return nil }
        var fd: uv_os_fd_t = -1
        guard uv_fileno(handle, &fd) == 0 else { return nil }
        let unacknowledged = CLibUV_unacknowledged(fd)
        guard unacknowledged >= 0, UInt64(unacknowledged) <= bytesWritten else { return nil }
        let acknowledged = bytesWritten - UInt64(unacknowledged)
        guard security != nil else { return acknowledged }
        return sealMarks.first { $0.wireEnd > acknowledged }?.plain ?? sealedPlaintext
    }

    /// Closes at once with an RST on TCP: bytes the peer has not acknowledged are dropped, never
    /// delivered after a partition heals.
    public func reset() { close(reset: true) }
}

extension StreamConnection {
    /// The peer's address as `host:port` (`[v6]:port`), for log lines; nil off TCP or once closed.
    public var peerAddress: String? {
        guard transport == .tcp, !isClosing else { return nil }
        var storage = sockaddr_storage()
        var length = Int32(MemoryLayout<sockaddr_storage>.size)
        let tcp = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { uv_tcp_getpeername(tcp, $0, &length) }
        }
        guard rc == 0 else { return nil }
        let address = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress(copying: $0, length: Int(length)) }
        }
        return address.description
    }
}
