// Endpoint: where a stream socket listens or connects — a TCP host:port or a Unix socket path.

/// A stream socket address in the forms every alertmesh tool accepts.
///
/// Parsing accepts `unix:/path.sock`, `/abs/path.sock`, `tcp://host:port`, `host:port` and
/// `[v6]:port`; `description` prints the canonical `unix:` / `tcp://` form.
public enum Endpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)

    public enum ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        case empty
        case missingPort(String)
        case badPort(String)
        case badPath(String)
        case badHost(String)

        public var description: String {
            switch self {
            case .empty: "empty address"
            case .missingPort(let s): "\"\(s)\" has no port (want host:port, tcp://host:port or unix:/path)"
            case .badPort(let s): "\"\(s)\" has a bad port (want 0-65535)"
            case .badPath(let s): "\"\(s)\" is not a usable socket path (at most 107 bytes)"
            case .badHost(let s): "\"\(s)\" has an empty or malformed host"
            }
        }
    }

    /// Longest Unix socket path Linux accepts (sun_path is 108 bytes with the NUL).
    public static let maxUnixPathBytes = 107

    public init(parsing text: String) throws(ParseError) {
        let s = text.trimmingWhitespace()
        guard !s.isEmpty else { throw .empty }
        if s.hasPrefix("unix:") || s.hasPrefix("/") {
            var path = s.hasPrefix("unix:") ? String(s.dropFirst(5)) : s
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }  // unix:///abs/path
            guard !path.isEmpty, path.utf8.count <= Endpoint.maxUnixPathBytes, !path.utf8.contains(0) else {
                throw .badPath(text)
            }
            self = .unix(path: path)
            return
        }
        var rest = Substring(s)
        if rest.hasPrefix("tcp://") { rest = rest.dropFirst(6) }
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        let host: Substring
        let portText: Substring
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .badHost(text) }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            guard after.hasPrefix(":") else { throw .missingPort(text) }
            portText = after.dropFirst()
        } else {
            guard let colon = rest.lastIndex(of: ":") else { throw .missingPort(text) }
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
            guard !host.contains(":") else { throw .badHost(text) }  // bare IPv6 needs brackets
        }
        guard !host.contains("/"), !host.contains(" ") else { throw .badHost(text) }
        guard !portText.isEmpty else { throw .missingPort(text) }
        guard portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = UInt16(portText) else {
            throw .badPort(text)
        }
        self = .tcp(host: host.isEmpty ? "127.0.0.1" : String(host), port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
