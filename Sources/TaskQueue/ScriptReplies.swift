// ScriptReplies: the consumer scripts' answers, decoded once into Swift types (see TaskScripts).

public import MeshRedis

/// What a script call came to, before its reply's meaning.
public enum ScriptAnswer<Reply: Sendable>: Sendable {
    /// The script ran and answered in its documented shape.
    case reply(Reply)
    /// Redis refused for now (`-LOADING` while a restarted server reads its AOF, `-OOM`, `-BUSY`)
    /// or was not connected: the script did not run; the same call may pass later.
    case refused(String)
    /// The call went out and its reply never came (a deadline, a dropped connection): the script
    /// may have run. Callers whose scripts are safe to repeat treat it like `refused`.
    case unanswered(String)
    /// An answer the script never gives: nothing can be concluded from it.
    case malformed(String)

    /// Decodes `result` with `decode`, which returns nil for a shape the script does not answer.
    public init(_ result: Result<RedisValue, RedisError>, _ decode: (RedisValue) -> Reply?) {
        switch result {
        // A script that ran but whose writes no replica confirmed may yet be lost: unanswered,
        // unless its caller (which asked for the wait) looked at `RedisError.unreplicated` first.
        case .failure(let error):
            self = error.replyLost || error.unreplicated != nil ? .unanswered("\(error)") : .refused("\(error)")
        case .success(.error(let e)): self = .refused(e)
        case .success(let value): self = decode(value).map { .reply($0) } ?? .malformed("\(value)")
        }
    }
}

/// An array reply item by item: nil unless it is an array (of `count` items, when given) whose
/// every item decodes — a reply that is partly nonsense is nonsense.
func decodeEach<T>(_ value: RedisValue, count: Int?, _ decode: (RedisValue) -> T?) -> [T]? {
    guard case .array(let items?) = value, count == nil || items.count == count else { return nil }
    let decoded = items.compactMap(decode)
    return decoded.count == items.count ? decoded : nil
}

/// The start script's answer for one entry.
public enum StartReply: Sendable, Hashable {
    /// Run attempt number `attempt` of the task with this message.
    case run(message: String, attempt: Int)
    /// Failed and dead-lettered without running: delivered too often, or out of attempts after crashes.
    case poison(error: String)
    /// Another consumer holds the entry now.
    case lost
    /// No such task: the entry was dropped.
    case gone
    /// Already finished (SUCCESS or FAILURE): the entry was dropped.
    case done(state: String)

    public static func decode(_ value: RedisValue) -> StartReply? {
        guard case .array(let items?) = value, let tag = items.first?.string else { return nil }
        switch (tag, items.count) {
        case ("run", 3):
            guard let message = items[1].string, let attempt = items[2].string.flatMap({ Int($0) }) else { return nil }
            return .run(message: message, attempt: attempt)
        case ("poison", 2): return items[1].string.map { .poison(error: $0) }
        case ("lost", 1): return .lost
        case ("gone", 1): return .gone
        case ("done", 2): return items[1].string.map { .done(state: $0) }
        default: return nil
        }
    }

    /// A batch's answer: one reply per entry, in order; nil unless every one decodes.
    public static func decodeBatch(_ value: RedisValue, count: Int) -> [StartReply]? {
        decodeEach(value, count: count, decode)
    }

    /// Why a task was not run, for the `skipped` event (`lost`, `gone`, `done SUCCESS`).
    public var skipReason: String {
        switch self {
        case .run: "run"
        case .poison(let error): "poison \(error)"
        case .lost: "lost"
        case .gone: "gone"
        case .done(let state): "done \(state)"
        }
    }
}

/// The read-and-start script's answer: the entries it read, each with its task id and how its
/// start went (an entry without a task id comes with an empty id and `.gone`: acknowledged).
public struct ReadStartReply: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public var entry: String
        public var taskID: String
        public var reply: StartReply
    }

    public var entries: [Entry]

    public static func decode(_ value: RedisValue) -> ReadStartReply? {
        decodeEach(value, count: nil) { item -> Entry? in
            guard case .array(let parts?) = item, parts.count == 3, let entry = parts[0].string,
                let taskID = parts[1].string, let reply = StartReply.decode(parts[2])
            else { return nil }
            return Entry(entry: entry, taskID: taskID, reply: reply)
        }.map(ReadStartReply.init(entries:))
    }
}

/// The answer of a state change (succeed, retry, fail) for one task.
public enum FinishReply: String, Sendable, Hashable {
    /// The change was made.
    case ok
    /// The task was already terminal: nothing changed.
    case duplicate
    /// No such task.
    case gone

    public static func decode(_ value: RedisValue) -> FinishReply? { value.string.flatMap(FinishReply.init(rawValue:)) }

    /// The succeed script's answer: one reply per task, in order; nil unless every one decodes.
    public static func decodeBatch(_ value: RedisValue, count: Int) -> [FinishReply]? {
        decodeEach(value, count: count, decode)
    }
}

/// The renew script's answer: the entries this consumer no longer holds (another consumer took
/// them over after the lease ran out, or they are gone from the pending list).
public struct RenewReply: Sendable, Hashable {
    public var lost: [String]

    public static func decode(_ value: RedisValue) -> RenewReply? {
        decodeEach(value, count: nil, \.string).map(RenewReply.init(lost:))
    }
}

extension SubmitOutcome {
    /// The submit script's answer: `{"created"|"existing"|"conflict", task id, …}`.
    public static func decode(_ value: RedisValue) -> SubmitOutcome? {
        guard case .array(let items?) = value, items.count >= 2, let tag = items[0].string,
            let id = items[1].string
        else { return nil }
        switch tag {
        case "created": return .created(id: id)
        case "existing": return .existing(id: id)
        case "conflict": return .conflict(id: id)
        default: return nil
        }
    }
}

/// The promote script's answer: how many retries were due (moved, or dropped when no longer RETRY).
public struct PromoteReply: Sendable, Hashable {
    public var due: Int

    public static func decode(_ value: RedisValue) -> PromoteReply? {
        guard case .integer(let n) = value, n >= 0 else { return nil }
        return PromoteReply(due: Int(n))
    }
}
