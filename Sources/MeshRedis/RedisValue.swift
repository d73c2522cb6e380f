// RedisValue: a Redis reply copied out of hiredis, so it outlives the callback.

/// A reply (RESP2). Error replies are values too: a command's failure is Redis's answer, not ours.
public enum RedisValue: Sendable, Hashable, CustomStringConvertible {
    case status(String)
    case error(String)
    case integer(Int64)
    /// A bulk string; nil is Redis's null bulk.
    case bulk([UInt8]?)
    /// An array; nil is Redis's null array (a BLOCK that timed out).
    case array([RedisValue]?)

    /// The bulk or status text, if this is one.
    public var string: String? {
        switch self {
        case .status(let s): s
        case .bulk(let b?): String(decoding: b, as: UTF8.self)
        default: nil
        }
    }

    /// An error reply (`-ERR …`, `-LOADING …`, `-OOM …`).
    public var isError: Bool {
        if case .error = self { return true }
        return false
    }

    public var isNull: Bool {
        switch self {
        case .bulk(nil), .array(nil): true
        default: false
        }
    }

    public var description: String {
        switch self {
        case .status(let s): "+\(s)"
        case .error(let e): "-\(e)"
        case .integer(let i): ":\(i)"
        case .bulk(let b): b.map { "\"\(String(decoding: $0, as: UTF8.self))\"" } ?? "(nil)"
        case .array(let a): a.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "(nil array)"
        }
    }
}

/// What a `ROLE` reply says of the server.
public enum RedisRole: Sendable, Hashable {
    /// A primary (`["master", offset, [replica…]]`), with this many replicas connected.
    case primary(replicas: Int)
    /// Anything else, by the reply's first word (`slave`, `sentinel`).
    case other(String)

    /// nil when `value` is not a `ROLE` reply at all.
    public init?(_ value: RedisValue) {
        guard case .array(let items?) = value, let word = items.first?.string else { return nil }
        guard word == "master" else {
            self = .other(word)
            return
        }
        guard items.count == 3 else { return nil }
        if case .array(let replicas?) = items[2] {
            self = .primary(replicas: replicas.count)
        } else {
            self = .primary(replicas: 0)
        }
    }
}

/// Why a command got no reply: the connection failed or closed. Names the hiredis call or reason.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    /// The command was sent and its reply never came (a deadline passed, the connection dropped):
    /// Redis may have run it. False when it was never sent (not connected), so it did not run.
    public var replyLost = false
    /// The command ran and answered this, but fewer replicas than asked confirmed its writes in
    /// time (`WAIT`): a failover now could lose them.
    public var unreplicated: RedisValue?
    /// No retry can fix it: the credentials were refused, or the user may not run the command.
    public var isConfiguration = false
    public init(_ message: String, replyLost: Bool = false, unreplicated: RedisValue? = nil) {
        self.message = message
        self.replyLost = replyLost
        self.unreplicated = unreplicated
    }
    public var description: String { message }
}
