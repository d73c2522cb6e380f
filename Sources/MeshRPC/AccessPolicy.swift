// AccessPolicy: which peer identities (from their TLS certificates) may call which methods.

/// A service's declaration of who may call what, checked on every call that arrives over TLS.
///
/// Rules name a method (`alertmesh.v1.AlertService/Analyze`) or a whole service
/// (`alertmesh.v1.DeadLetters/*`) and the identities allowed (`worker`; `*` is any peer the mesh
/// CA vouched for). The built-in `_sys.*` services are open to any authenticated peer; a method no
/// rule names is refused — adding a method means deciding who may call it.
///
/// Unix sockets carry no identity: whoever can open the socket file (mode 0600) is trusted, as
/// whoever can read the service's files. Plaintext TCP (`--insecure-tcp`, loopback only) likewise.
public struct AccessPolicy: Sendable, Hashable {
    public static let anyPeer = "*"

    public private(set) var rules: [String: Set<String>]

    /// No restriction (the default: for Unix sockets and tests).
    public static let open = AccessPolicy(rules: ["*": [anyPeer]])

    public init(rules: [String: Set<String>]) { self.rules = rules }

    /// Whether `identity` (nil: a certificate naming none) may call `method`.
    public func permits(_ identity: String?, _ method: MethodDescriptor) -> Bool {
        if method.service.hasPrefix("_sys.") { return true }
        guard
            let allowed = rules[method.fullName] ?? rules[method.service + "/*"] ?? rules["*"]
        else { return false }
        if allowed.contains(AccessPolicy.anyPeer) { return true }
        return identity.map(allowed.contains) ?? false
    }

    /// The rules as `method: identity, identity` lines, for docs and `--help`.
    public var summary: [String] {
        rules.keys.sorted().map { "\($0): \(rules[$0]!.sorted().joined(separator: ", "))" }
    }
}
