// TLSOptions: the mesh's mutual TLS — our certificate, its key, the CA that signs every peer —
// and the one way out of it: plaintext TCP on loopback for development.

public import ArgumentParser
public import MeshLoop
public import MeshTLS

/// TLS options of every service and rpc-probe; include with `@OptionGroup var tls: TLSOptions`.
public struct TLSOptions: ParsableArguments {
    @Option(
        name: .customLong("tls-cert"),
        help: ArgumentHelp(
            "PEM certificate (chain) presented on tcp:// links; names our identity as URI SAN alertmesh://<role>.",
            valueName: "file"))
    public var certificate: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("PEM private key of --tls-cert.", valueName: "file"))
    public var key: String?

    @Option(
        name: .customLong("tls-ca"),
        help: ArgumentHelp(
            "PEM certificate of the mesh CA: a tcp:// peer must present one it signed.", valueName: "file"))
    public var ca: String?

    @Flag(
        name: .customLong("insecure-tcp"),
        help: "Allow plaintext tcp:// on loopback addresses only (development; no identity, no authorization).")
    public var insecureTCP = false

    public init() {}

    /// Whether TLS is configured (all three files given).
    public var isEnabled: Bool { certificate != nil }

    public func validate() throws {
        let given = [("--tls-cert", certificate), ("--tls-key", key), ("--tls-ca", ca)]
        let missing = given.filter { $0.1 == nil }.map(\.0)
        if missing.count == 1 || missing.count == 2 {
            throw ValidationError(
                "\(missing[0]): needed with \(given.filter { $0.1 != nil }.map(\.0).joined(separator: " and "))")
        }
        if isEnabled && insecureTCP {
            throw ValidationError("--insecure-tcp: not with --tls-cert (TLS is on)")
        }
    }

    /// The loaded TLS context, or nil when no files are given. Errors name the option.
    public func context() throws -> TLSContext? {
        guard let certificate, let key, let ca else { return nil }
        do {
            return try TLSContext(files: .init(certificate: certificate, key: key, ca: ca))
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// Refuses a plaintext `tcp://` endpoint (`option` names where it came from): TCP needs TLS,
    /// or `--insecure-tcp` and a loopback address.
    public func check(_ endpoints: [Endpoint], option: String) throws {
        guard !isEnabled else { return }
        for endpoint in endpoints {
            guard case .tcp(let host, _) = endpoint else { continue }
            if !insecureTCP {
                throw ValidationError(
                    "\(option): \(endpoint) needs TLS: give --tls-cert, --tls-key and --tls-ca "
                        + "(or --insecure-tcp, loopback only, for development)")
            }
            if !TLSOptions.isLoopback(host) {
                throw ValidationError(
                    "--insecure-tcp: \(endpoint) is not a loopback address; plaintext TCP is for 127.0.0.1 and ::1 only"
                )
            }
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        let h = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return h == "localhost" || h == "::1" || h.hasPrefix("127.")
    }
}
