// TLSContext: a process's TLS settings — its certificate, key and the mesh CA — loaded once and
// checked at start-up, so a bad file stops the service with a line naming the option.

internal import COpenSSL

/// A TLS failure at start-up, naming the option whose file is at fault.
public struct TLSError: Error, CustomStringConvertible, Sendable {
    public let option: String
    public let message: String
    public var description: String { "\(option): \(message)" }

    init(_ option: String, _ message: String) {
        self.option = option
        self.message = message
    }
}

/// The mesh's TLS configuration (one `SSL_CTX`), shared by every connection of a process, in
/// both directions: each certificate carries both server and client use, so one identity serves
/// a service's listeners and its calls to others.
///
/// Fixed, not configurable: TLS 1.3 only; the peer must present a certificate the mesh CA signed
/// (verified by OpenSSL: chain, validity dates, key usage); no session resumption. Identities
/// are URI subject-alternative-names `alertmesh://<role>`.
public final class TLSContext: @unchecked Sendable {
    // @unchecked: an SSL_CTX is safe to share between threads once set up, and nothing here
    // changes after init.
    /// The scheme of identity URIs in certificates: `alertmesh://worker` is the identity `worker`.
    public static let identityScheme = "alertmesh://"

    /// The three PEM files: our certificate (chain), its private key, the CA that signs peers.
    public struct Files: Sendable, Hashable {
        public var certificate: String
        public var key: String
        public var ca: String

        public init(certificate: String, key: String, ca: String) {
            self.certificate = certificate
            self.key = key
            self.ca = ca
        }
    }

    let ctx: OpaquePointer
    public let files: Files
    /// Our own identity, from our certificate (nil if it names none).
    public let identity: String?
    /// Seconds until our certificate expires, when loaded.
    public let secondsUntilExpiry: Int64

    /// Loads and checks the files; the error names the option (`--tls-cert`, `--tls-key`,
    /// `--tls-ca`) and says what is wrong in a line.
    public init(files: Files) throws(TLSError) {
        guard let ctx = SSL_CTX_new(TLS_method()) else {
            throw TLSError("--tls-cert", "OpenSSL cannot create a context: \(TLSContext.lastError())")
        }
        self.ctx = ctx
        self.files = files
        guard COpenSSL_onlyTLS13(ctx) == 1 else {
            SSL_CTX_free(ctx)
            throw TLSError("--tls-cert", "this OpenSSL cannot do TLS 1.3: \(TLSContext.lastError())")
        }
        COpenSSL_requirePeerCertificate(ctx)
        COpenSSL_tuneContext(ctx)
        do {
            (identity, secondsUntilExpiry) = try TLSContext.load(files, into: ctx)
        } catch {
            SSL_CTX_free(ctx)
            throw error
        }
    }

    deinit { SSL_CTX_free(ctx) }

    private static func load(_ files: Files, into ctx: OpaquePointer) throws(TLSError) -> (String?, Int64) {
        ERR_clear_error()
        guard SSL_CTX_use_certificate_chain_file(ctx, files.certificate) == 1 else {
            throw TLSError("--tls-cert", "cannot load a PEM certificate from \(files.certificate): \(lastError())")
        }
        guard let cert = SSL_CTX_get0_certificate(ctx) else {
            throw TLSError("--tls-cert", "no certificate in \(files.certificate)")
        }
        let untilValid = COpenSSL_secondsUntilValid(cert)
        if untilValid > 0 {
            throw TLSError("--tls-cert", "\(files.certificate) is not valid yet (for another \(untilValid) s)")
        }
        let untilExpiry = COpenSSL_secondsUntilExpiry(cert)
        if untilExpiry <= 0 {
            throw TLSError("--tls-cert", "\(files.certificate) has expired (\(-untilExpiry / 86_400) days ago)")
        }
        guard SSL_CTX_use_PrivateKey_file(ctx, files.key, SSL_FILETYPE_PEM) == 1 else {
            throw TLSError("--tls-key", "cannot load a PEM private key from \(files.key): \(lastError())")
        }
        guard SSL_CTX_check_private_key(ctx) == 1 else {
            throw TLSError("--tls-key", "\(files.key) is not the key of \(files.certificate)")
        }
        guard SSL_CTX_load_verify_locations(ctx, files.ca, nil) == 1 else {
            throw TLSError("--tls-ca", "cannot load a PEM CA certificate from \(files.ca): \(lastError())")
        }
        return (identity(of: cert), Int64(untilExpiry))
    }

    /// A session for one connection: `server` accepts, otherwise it connects. A client that knows
    /// whom it calls names the identities it accepts (`expecting`); any other peer is refused.
    public func makeSession(server: Bool, expecting: Set<String>? = nil) -> TLSSession? {
        TLSSession(context: self, server: server, expecting: expecting)
    }

    static func identity(of cert: OpaquePointer) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        let n = COpenSSL_uriSAN(cert, identityScheme, &buffer, buffer.count)
        return n > 0 ? stripScheme(buffer) : nil
    }

    static func stripScheme(_ buffer: [CChar]) -> String {
        String(string(from: buffer).dropFirst(identityScheme.count))
    }

    /// The NUL-terminated text OpenSSL wrote into `buffer`.
    static func string(from buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The newest OpenSSL error as a phrase ("no start line"), clearing the queue.
    static func lastError() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        COpenSSL_lastError(&buffer, buffer.count)
        let text = string(from: buffer)
        return text.isEmpty ? "unknown error" : text
    }
}
