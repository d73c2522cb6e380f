// StreamSecurity: a layer between a stream's socket and its users — TLS, in MeshTLS — that the
// stream drives from its own reads and writes, so it runs on the loop like any other byte.

/// Seals what a stream's users write and opens what its socket reads. The stream keeps using its
/// own buffers and syscalls; the layer only turns bytes into bytes (OpenSSL memory BIOs), so there
/// is no second socket, thread or loop.
public protocol StreamSecurity: AnyObject {
    /// Whether the handshake is done, so application bytes may be sealed and delivered.
    var isEstablished: Bool { get }
    /// Called once before reading starts (a client produces its first flight here).
    func start() throws(StreamSecurityError)
    /// Takes bytes read from the socket and hands out the plaintext they complete to `deliver`
    /// (which returns false to stop delivering: the stream closed). `scratch` is room for that
    /// plaintext; `bytes` may lie in it and is consumed before anything is written there.
    /// Returns true when the peer ended the session (an orderly close).
    func open(
        _ bytes: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer,
        deliver: (UnsafeRawBufferPointer) -> Bool
    ) throws(StreamSecurityError) -> Bool
    /// Seals application bytes; the records wait for `takeOutput`.
    func seal(_ plaintext: UnsafeRawBufferPointer) throws(StreamSecurityError)
    /// Appends what must go to the socket — handshake messages, records, alerts — to `wire`.
    func takeOutput(into wire: inout [UInt8])
}

/// Why a security layer gave up on a stream: a failed handshake, a refused certificate, garbage.
public struct StreamSecurityError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
