// StreamConnection+Delivery: how far our bytes got — queued, acknowledged by the peer's machine —
// and a reset that drops what did not arrive.

internal import CLibUV

extension StreamConnection {
    /// Every byte `write` ever accepted: the offset in the stream at which the next write starts.
    public var bytesQueued: UInt64 { bytesWritten + UInt64(pendingWriteBytes) }

    /// The offset up to which the peer's TCP has acknowledged our bytes — what reached the peer
    /// machine; nil off TCP or when the kernel cannot say.
    public var bytesAcknowledged: UInt64? {
        guard transport == .tcp, !isClosing else { return nil }
        var fd: uv_os_fd_t = -1
        guard uv_fileno(handle, &fd) == 0 else { return nil }
        let unacknowledged = CLibUV_unacknowledged(fd)
        guard unacknowledged >= 0, UInt64(unacknowledged) <= bytesWritten else { return nil }
        return bytesWritten - UInt64(unacknowledged)
    }

    /// Closes at once with an RST on TCP: bytes the peer has not acknowledged are dropped, never
    /// delivered after a partition heals.
    public func reset() { close(reset: true) }
}
