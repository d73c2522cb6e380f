// RedisService: which Redis a client talks to — one server, or the primary Sentinels name.

public import MeshLoop

/// What `--redis` names: a server at a fixed address, or a primary found through Redis Sentinel.
///
/// Parsing accepts every `RedisEndpoint` form (`host:port`, `tcp://host:port`, `unix:/path`) and
/// `sentinel://host:port[,host:port…]/<master-name>`.
///
/// ```swift
/// let service = try RedisService(parsing: "sentinel://10.0.0.1:26379,10.0.0.2:26379/alertmesh")
/// ```
public enum RedisService: Sendable, Hashable, CustomStringConvertible {
    case server(RedisEndpoint)
    /// The primary the Sentinels at `sentinels` know as `masterName`; it moves on a failover.
    case sentinel(masterName: String, sentinels: [RedisEndpoint])

    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    public init(parsing text: String) throws(ParseError) {
        let scheme = "sentinel://"
        guard text.lowercased().hasPrefix(scheme) else {
            do {
                self = .server(try RedisEndpoint(parsing: text))
            } catch {
                throw ParseError(description: "\(error)")
            }
            return
        }
        let rest = text.dropFirst(scheme.count)
        guard let slash = rest.firstIndex(of: "/") else {
            throw ParseError(
                description: "\"\(text)\" names no primary: want sentinel://host:port[,host:port…]/<master-name>")
        }
        let name = String(rest[rest.index(after: slash)...])
        // Sentinel takes a master name of letters, digits and ".-_"; anything else is a typo here.
        let allowed = name.unicodeScalars.allSatisfy { c in
            c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || c == "." || c == "-" || c == "_")
        }
        guard !name.isEmpty, name.utf8.count <= 128, allowed
        else {
            throw ParseError(description: "\"\(text)\": the master name must be 1-128 letters, digits, '.', '-' or '_'")
        }
        var sentinels: [RedisEndpoint] = []
        for part in rest[..<slash].split(separator: ",", omittingEmptySubsequences: false) {
            guard case .tcp(let host, let port)? = try? Endpoint(parsing: String(part)), port != 0 else {
                throw ParseError(description: "\"\(text)\": \"\(part)\" is not a Sentinel's host:port")
            }
            sentinels.append(.tcp(host: host, port: port))
        }
        guard !sentinels.isEmpty else { throw ParseError(description: "\"\(text)\" names no Sentinel") }
        self = .sentinel(masterName: name, sentinels: sentinels)
    }

    public var description: String {
        switch self {
        case .server(let endpoint): "\(endpoint)"
        case .sentinel(let name, let sentinels):
            "sentinel://" + sentinels.map(\.description).joined(separator: ",") + "/" + name
        }
    }
}
