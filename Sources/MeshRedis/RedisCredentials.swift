// RedisCredentials: the ACL user and password a client authenticates with, and how `--redis`
// may carry them (`redis://user:password@host:port`, `unix://user:password@/path`).

/// Who we are to Redis: `AUTH user password` (Redis 6 ACL) or `AUTH password` (the default user).
public struct RedisCredentials: Sendable, Hashable, CustomStringConvertible {
    public var user: String?
    public var password: String

    public init(user: String?, password: String) {
        self.user = user
        self.password = password
    }

    /// The AUTH command. The password never reaches a log: `description` leaves it out.
    var command: [String] { ["AUTH"] + (user.map { [$0] } ?? []) + [password] }

    public var description: String { "user \(user ?? "default")" }

    /// Splits `user:password@` off an address: `redis://u:p@h:6379` → (`h:6379`, u, p);
    /// `unix://u:p@/run/redis.sock` → (`unix:/run/redis.sock`, u, p); `sentinel://u:p@…/name`
    /// keeps its scheme (the same credentials log in to the Sentinels and the servers). Percent-escapes
    /// in the user and password are decoded (`%40` for `@`).
    public static func split(address text: String) -> (address: String, user: String?, password: String?) {
        guard let schemeEnd = text.firstRange(of: "://") else { return (text, nil, nil) }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        var rest = text[schemeEnd.upperBound...]
        var user: String?
        var password: String?
        if let at = rest.lastIndex(of: "@"), !rest[..<at].contains("/") {
            let info = rest[..<at]
            if let colon = info.firstIndex(of: ":") {
                user = decode(info[..<colon])
                password = decode(info[info.index(after: colon)...])
            } else {
                user = decode(info)
            }
            if user?.isEmpty == true { user = nil }
            rest = rest[rest.index(after: at)...]
        }
        switch scheme {
        case "redis", "tcp": return (String(rest), user, password)
        case "unix": return ("unix:" + rest, user, password)
        default: return (scheme + "://" + rest, user, password)
        }
    }

    private static func decode(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var i = s.utf8.startIndex
        let u = s.utf8
        while i < u.endIndex {
            if u[i] == UInt8(ascii: "%"), let a = u.index(i, offsetBy: 1, limitedBy: u.endIndex), a < u.endIndex,
                let b = u.index(a, offsetBy: 1, limitedBy: u.endIndex), b < u.endIndex,
                let v = UInt8(String(decoding: [u[a], u[b]], as: UTF8.self), radix: 16)
            {
                bytes.append(v)
                i = u.index(after: b)
            } else {
                bytes.append(u[i])
                i = u.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension RedisConnection {
    /// Connects and, with credentials, sends `AUTH` before anything else. A refusal (`-WRONGPASS`,
    /// or `-ERR` from a server without users) fails with an error marked `isConfiguration`.
    func connect(as credentials: RedisCredentials?, _ completion: @escaping (Result<Void, RedisError>) -> Void) {
        connect { [self] result in
            guard case .success = result, let credentials else { return completion(result) }
            send(credentials.command) { [endpoint] reply in
                switch reply {
                case .success(.error(let e)):
                    var error = RedisError("\(endpoint) refused the credentials of \(credentials): \(e.prefix(120))")
                    error.isConfiguration = true
                    completion(.failure(error))
                case .success: completion(.success(()))
                case .failure(let error): completion(.failure(error))
                }
            }
        }
    }
}

extension RedisError {
    /// An error reply that no retry can fix: the ACL user lacks a command, key or channel
    /// (`-NOPERM`), or the server wants credentials we were not given (`-NOAUTH`).
    static func configuration(reply e: String) -> RedisError? {
        guard e.hasPrefix("NOPERM") || e.hasPrefix("NOAUTH") else { return nil }
        let hint = e.hasPrefix("NOAUTH") ? " (give --redis-password-file)" : ""
        var error = RedisError("redis refused a command: -\(e.prefix(160))\(hint)")
        error.isConfiguration = true
        return error
    }
}
