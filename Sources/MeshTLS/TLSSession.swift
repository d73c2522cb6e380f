// TLSSession: one connection's TLS, driven through two memory BIOs by the stream that owns it —
// ciphertext in from the stream's reads, records out into its writes; OpenSSL never touches the
// socket, so libuv keeps doing all I/O on the loop.

internal import COpenSSL
public import MeshLoop

public final class TLSSession: StreamSecurity {
    private let ssl: OpaquePointer
    /// Ciphertext from the peer, for OpenSSL to read (owned by `ssl`).
    private let incoming: OpaquePointer
    /// What OpenSSL wrote for the peer (owned by `ssl`).
    private let outgoing: OpaquePointer
    private let isServer: Bool
    private let expecting: Set<String>?
    /// Keeps the SSL_CTX alive as long as its sessions.
    let context: TLSContext
    public private(set) var isEstablished = false
    /// The peer's identity from its verified certificate (`worker`), once established.
    public private(set) var peerIdentity: String?
    /// "TLSv1.3 TLS_AES_256_GCM_SHA384", once established.
    public private(set) var parameters = ""

    init?(context: TLSContext, server: Bool, expecting: Set<String>?) {
        guard let ssl = SSL_new(context.ctx) else { return nil }
        guard let incoming = BIO_new(BIO_s_mem()), let outgoing = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            return nil
        }
        SSL_set_bio(ssl, incoming, outgoing)
        if server { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
        self.ssl = ssl
        self.incoming = incoming
        self.outgoing = outgoing
        self.isServer = server
        self.expecting = expecting
        self.context = context
    }

    deinit { SSL_free(ssl) }

    public func start() throws(StreamSecurityError) {
        if !isServer { try handshake() }
    }

    public func open(
        _ bytes: UnsafeRawBufferPointer, scratch: UnsafeMutableRawBufferPointer,
        deliver: (UnsafeRawBufferPointer) -> Bool
    ) throws(StreamSecurityError) -> Bool {
        // A memory BIO grows to take everything: no partial writes to track.
        guard BIO_write(incoming, bytes.baseAddress, Int32(bytes.count)) == Int32(bytes.count) else {
            throw StreamSecurityError("TLS: out of memory buffering \(bytes.count) bytes")
        }
        if !isEstablished {
            try handshake()
            guard isEstablished else { return false }
        }
        while true {
            ERR_clear_error()
            let n = SSL_read(ssl, scratch.baseAddress, Int32(scratch.count))
            if n > 0 {
                guard deliver(UnsafeRawBufferPointer(start: scratch.baseAddress, count: Int(n))) else { return false }
                continue
            }
            switch SSL_get_error(ssl, n) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return false
            case SSL_ERROR_ZERO_RETURN: return true
            default: throw failure(handshakeDone: true)
            }
        }
    }

    public func seal(_ plaintext: UnsafeRawBufferPointer) throws(StreamSecurityError) {
        var offset = 0
        while offset < plaintext.count {
            ERR_clear_error()
            let n = SSL_write(ssl, plaintext.baseAddress! + offset, Int32(clamping: plaintext.count - offset))
            guard n > 0 else { throw failure(handshakeDone: true) }
            offset += Int(n)
        }
    }

    public func takeOutput(into wire: inout [UInt8]) {
        let pending = Int(BIO_ctrl_pending(outgoing))
        guard pending > 0 else { return }
        let start = wire.count
        wire.append(contentsOf: repeatElement(0, count: pending))
        let read = wire.withUnsafeMutableBytes { BIO_read(outgoing, $0.baseAddress! + start, Int32(pending)) }
        if Int(read) < pending { wire.removeLast(pending - max(0, Int(read))) }
    }

    private func handshake() throws(StreamSecurityError) {
        ERR_clear_error()
        let rc = SSL_do_handshake(ssl)
        if rc == 1 {
            isEstablished = true
            try checkPeer()
            return
        }
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return
        default: throw failure(handshakeDone: false)
        }
    }

    private func checkPeer() throws(StreamSecurityError) {
        var buffer = [CChar](repeating: 0, count: 256)
        if COpenSSL_peerURISAN(ssl, TLSContext.identityScheme, &buffer, buffer.count) > 0 {
            peerIdentity = TLSContext.stripScheme(buffer)
        }
        let version = SSL_get_version(ssl).map { String(cString: $0) } ?? "?"
        let cipher = SSL_get_current_cipher(ssl).flatMap { SSL_CIPHER_get_name($0) }.map { String(cString: $0) } ?? "?"
        parameters = version + " " + cipher
        if let expecting, !expecting.contains(peerIdentity ?? "") {
            let shown = peerIdentity.map { TLSContext.identityScheme + $0 } ?? "no alertmesh:// identity"
            let wanted = expecting.sorted().map { TLSContext.identityScheme + $0 }.joined(separator: " or ")
            throw StreamSecurityError("TLS: the peer's certificate names \(shown), not \(wanted)")
        }
    }

    /// A failed handshake or record as a person reads it: what OpenSSL said, the certificate
    /// check's verdict, and a hint when the peer does not speak TLS at all.
    private func failure(handshakeDone: Bool) -> StreamSecurityError {
        let reason = TLSContext.lastError()
        let verify = SSL_get_verify_result(ssl)
        var text = handshakeDone ? "TLS: " : "TLS handshake failed: "
        if verify != X509_V_OK, let detail = X509_verify_cert_error_string(verify) {
            text += "the peer's certificate was refused (\(String(cString: detail)))"
        } else if ["wrong version number", "http request", "packet length too long", "record layer failure"]
            .contains(where: reason.contains)
        {
            text += "the peer does not speak TLS (\(reason)); is it a plaintext endpoint?"
        } else if reason.contains("alert") {
            text += "the peer refused us: \(reason)"
        } else {
            text += reason
        }
        return StreamSecurityError(text)
    }
}
