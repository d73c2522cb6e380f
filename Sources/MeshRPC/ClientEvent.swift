// ClientEvent: what an RPC client reports about its connections.

public import MeshWire

/// What a client reports about its connections (for `rpc-probe -v` and service logs).
public enum ClientEvent: Sendable {
    case connecting
    /// The socket connected after `ms`.
    case connected(ms: Double)
    /// The TLS handshake finished: the server's identity from its certificate, the protocol
    /// and cipher (`TLSv1.3 TLS_AES_256_GCM_SHA384`).
    case secured(identity: String?, parameters: String, ms: Double)
    /// The handshake finished: the server's HELLO_ACK settings.
    case ready(server: HelloSettings, ms: Double)
    case disconnected(reason: String)
    /// The endpoint is out of rotation; the next attempt is in `ms`.
    case backoff(ms: UInt64, reason: String)
}
