// ConnectionTimeouts: the time limits of a connection's life — handshake, keepalive, linger.

/// Connection-level timing settings shared by servers and clients.
public struct ConnectionTimeouts: Sendable, Hashable {
    /// The peer must finish the preface + HELLO exchange within this time.
    public var handshakeMs: UInt64 = 10_000
    /// Send a PING after this much silence (0: never).
    public var pingIntervalMs: UInt32 = 30_000
    /// Close the connection if no PONG (or any byte) arrives this long after a PING.
    public var pingTimeoutMs: UInt64 = 10_000
    /// After a protocol error, how long the GOAWAY may take to leave before the socket is cut.
    public var lingerMs: UInt64 = 1_000
    /// Stop reading from a peer while this many bytes of our answers wait for it to read (backpressure).
    public var writeBacklogLimit = 8 * 1024 * 1024

    public init() {}
}
