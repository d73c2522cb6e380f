// QueueClient: the api-service's side of the pipeline — submit, look up, readiness, queue figures.

public import MeshRedis
public import TaskPipeline

/// A task as stored in its hash.
public struct TaskRecord: Sendable, Hashable {
    public var id: String
    public var state: TaskState
    public var attempts: Int
    /// Milliseconds since the epoch (Redis's clock).
    public var createdAtMs: Int64
    public var updatedAtMs: Int64
    /// The result JSON, on SUCCESS.
    public var result: [UInt8]?
    /// The last error (RETRY, FAILURE).
    public var error: String?
    /// When a RETRY is due (ms since the epoch).
    public var retryAtMs: Int64?
    /// When its first attempt started (ms since the epoch), if it has.
    public var startedAtMs: Int64?
    /// Its transitions off the happy path, oldest first: retries and their errors, later starts,
    /// postponements, failure, re-drive (`TaskScripts`' `record`).
    public var history: [Transition] = []

    /// One recorded transition.
    public struct Transition: Sendable, Hashable {
        public var atMs: Int64
        public var state: String
        public var detail: String
        public init(atMs: Int64, state: String, detail: String) {
            self.atMs = atMs
            self.state = state
            self.detail = detail
        }
    }

    /// The fields `QueueClient.status` asks for, in its `HMGET`'s order — never `message`: a
    /// pending task's message (up to the size limit) would travel with every poll for nothing.
    public static let fields = [
        "state", "attempts", "created_at", "updated_at", "result", "error", "retry_at", "started_at", "history",
    ]

    /// Reads the `HMGET` reply for `fields`; nil when the hash does not exist (every field nil) or
    /// makes no sense.
    public init?(id: String, fields reply: RedisValue) {
        guard case .array(let items?) = reply, items.count == TaskRecord.fields.count else { return nil }
        func bytes(_ i: Int) -> [UInt8]? {
            if case .bulk(let value?) = items[i] { return value }
            return nil
        }
        func text(_ i: Int) -> String? { bytes(i).map { String(decoding: $0, as: UTF8.self) } }
        guard let stateText = text(0), let state = TaskState(rawValue: stateText) else { return nil }
        self.id = id
        self.state = state
        attempts = text(1).flatMap { Int($0) } ?? 0
        createdAtMs = text(2).flatMap { Int64($0) } ?? 0
        updatedAtMs = text(3).flatMap { Int64($0) } ?? createdAtMs
        result = state == .success ? bytes(4) : nil
        error = text(5)
        retryAtMs = state == .retry || state == .pending ? text(6).flatMap { Int64($0) } : nil
        startedAtMs = text(7).flatMap { Int64($0) }
        for line in (text(8) ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 2)
            guard parts.count >= 2, let ms = Int64(parts[0]) else { continue }
            history.append(
                Transition(atMs: ms, state: String(parts[1]), detail: parts.count > 2 ? String(parts[2]) : ""))
        }
    }
}

/// How a submit ended.
public enum SubmitOutcome: Sendable, Hashable {
    /// Stored: the task hash and its stream entry exist.
    case created(id: String)
    /// The Idempotency-Key was seen before with the same message: its task.
    case existing(id: String)
    /// The Idempotency-Key was used before for a different message.
    case conflict(id: String)
}

/// Errors of the queue's Redis calls, worded for an HTTP 503's detail.
public struct QueueError: Error, Sendable, Hashable, CustomStringConvertible {
    public var message: String
    /// Redis may have stored the task: the command went out and no answer came back.
    public var outcomeUnknown = false
    public init(_ message: String, outcomeUnknown: Bool = false) {
        self.message = message
        self.outcomeUnknown = outcomeUnknown
    }
    public var description: String { message }
    /// Redis refused a script: its reply, said plainly where Redis's words would puzzle a client.
    init(refusal: String) {
        if refusal.hasPrefix("NOREPLICAS") {
            self.init("the redis primary has too few replicas in sync (min-replicas-to-write); nothing was stored")
        } else {
            self.init(refusal)
        }
    }
    /// Redis refused a write at `maxmemory` (`-OOM …`): nothing was stored.
    public var isOutOfMemory: Bool { !outcomeUnknown && message.contains("OOM command not allowed") }
}

/// The api-service's handle on the queue: writes tasks, reads them back.
///
/// ```swift
/// let queue = QueueClient(redis: client)
/// queue.submit(id: id, message: text, idempotencyKey: nil) { print($0) }
/// ```
public final class QueueClient {
    public let redis: RedisClient
    public let keys: TaskKeys
    /// How long an Idempotency-Key maps to its task.
    public var idempotencyTTLSeconds = 86_400
    private let submitScript = TaskScripts.submit()
    private let submitManyScript = TaskScripts.submitMany()
    private let withdrawScript = TaskScripts.withdraw()
    /// Submits without an Idempotency-Key gathered in this loop turn, sent as one script call.
    private var gathered: [(id: String, message: [UInt8], completion: (Result<SubmitOutcome, QueueError>) -> Void)] = []
    private var gatheredBytes = 0
    /// Whether the consumer group was seen (created or already there) since the last connect.
    public private(set) var groupReady = false

    public init(redis: RedisClient, keys: TaskKeys = TaskKeys()) {
        self.redis = redis
        self.keys = keys
        redis.register(submitScript)
        redis.register(submitManyScript)
        redis.register(withdrawScript)
    }

    /// Creates the stream and its consumer group if missing (`XGROUP CREATE … 0 MKSTREAM`; from
    /// id 0, so tasks written before the group existed are not skipped).
    public func ensureGroup(_ completion: @escaping (Result<Void, QueueError>) -> Void = { _ in }) {
        QueueClient.ensureGroup(redis: redis, keys: keys) { [weak self] result in
            self?.groupReady = (try? result.get()) != nil
            completion(result)
        }
    }

    static func ensureGroup(
        redis: RedisClient, keys: TaskKeys, _ completion: @escaping (Result<Void, QueueError>) -> Void
    ) {
        redis.send(["XGROUP", "CREATE", keys.stream, keys.group, "0", "MKSTREAM"]) { result in
            switch result {
            case .success(.error(let e)) where e.hasPrefix("BUSYGROUP"): completion(.success(()))
            case .success(.error(let e)): completion(.failure(QueueError("XGROUP CREATE: \(e)")))
            case .success: completion(.success(()))
            case .failure(let e): completion(.failure(QueueError("\(e)")))
            }
        }
    }

    /// Stores a task (hash + stream entry, atomically). The completion's success means Redis has
    /// confirmed the write — and, with `RedisClient.Configuration.minReplicas`, that many replicas
    /// too; when they do not confirm in time, the task is withdrawn (see `TaskScripts.withdraw`).
    ///
    /// Submits without an Idempotency-Key are gathered until the end of the loop turn (or 1 MiB of
    /// messages) and stored with one script call: one round trip and one script run for all the
    /// requests that arrived together, instead of one each.
    public func submit(
        id: String, message: String, idempotencyKey: String?,
        completion: @escaping (Result<SubmitOutcome, QueueError>) -> Void
    ) {
        guard let idempotencyKey else {
            let bytes = Array(message.utf8)
            if gathered.isEmpty { redis.atEndOfTurn { [weak self] in self?.submitGathered() } }
            gathered.append((id, bytes, completion))
            gatheredBytes += bytes.count
            if gatheredBytes >= 1 << 20 || gathered.count >= 512 { submitGathered() }
            return
        }
        redis.eval(
            submitScript, keys: [keys.task(id), keys.stream, keys.idempotency(idempotencyKey), keys.counters],
            arguments: [
                Array(id.utf8), Array(message.utf8), Array(String(idempotencyTTLSeconds).utf8),
            ], replicated: true
        ) { [weak self] result in
            if case .failure(let error) = result, let reply = error.unreplicated {
                switch SubmitOutcome.decode(reply) {
                case .created?:
                    guard let self else { return completion(.failure(QueueError("\(error)", outcomeUnknown: true))) }
                    return self.withdraw([id], idempotencyKey: idempotencyKey, because: error) {
                        completion(.failure($0[0]))
                    }
                case .conflict(let other)?:
                    return completion(.success(.conflict(id: other)))  // nothing was written
                default:
                    // An earlier submit's task: not ours to withdraw; it may not be on a replica yet.
                    return completion(.failure(QueueError("\(error); submit again with the same Idempotency-Key")))
                }
            }
            switch ScriptAnswer(result, SubmitOutcome.decode) {
            case .reply(let outcome): completion(.success(outcome))
            case .refused(let why): completion(.failure(QueueError(refusal: why)))
            case .unanswered(let why): completion(.failure(QueueError(why, outcomeUnknown: true)))
            case .malformed(let what): completion(.failure(QueueError("submit script answered \(what)")))
            }
        }
    }

    private func submitGathered() {
        guard !gathered.isEmpty else { return }
        let batch = gathered
        gathered.removeAll(keepingCapacity: true)
        gatheredBytes = 0
        redis.eval(
            submitManyScript, keys: [keys.stream, keys.counters] + batch.map { keys.task($0.id) },
            arguments: TaskScripts.packSubmits(batch.map { ($0.id, $0.message) }), replicated: true
        ) { [weak self] result in
            if case .failure(let error) = result, error.unreplicated != nil {
                guard let self else {
                    return batch.forEach { $0.completion(.failure(QueueError("\(error)", outcomeUnknown: true))) }
                }
                return self.withdraw(batch.map(\.id), idempotencyKey: nil, because: error) { errors in
                    for (task, error) in zip(batch, errors) { task.completion(.failure(error)) }
                }
            }
            // The script answers Redis's time: every task of the batch was created.
            let failure: QueueError?
            switch ScriptAnswer(result, { $0.string }) {
            case .reply: failure = nil
            case .refused(let why): failure = QueueError(refusal: why)
            case .unanswered(let why): failure = QueueError(why, outcomeUnknown: true)
            case .malformed(let what): failure = QueueError("submit script answered \(what)")
            }
            for task in batch {
                task.completion(failure.map { .failure($0) } ?? .success(.created(id: task.id)))
            }
        }
    }

    /// Takes back tasks whose writes too few replicas confirmed; answers each one's error: not
    /// stored (withdrawn), or outcome unknown (a worker started it already, or no answer came).
    private func withdraw(
        _ ids: [String], idempotencyKey: String?, because error: RedisError,
        _ completion: @escaping ([QueueError]) -> Void
    ) {
        var scriptKeys = [keys.stream, keys.counters] + ids.map { keys.task($0) }
        if let idempotencyKey { scriptKeys.append(keys.idempotency(idempotencyKey)) }
        redis.eval(
            withdrawScript, keys: scriptKeys, arguments: [Array(keys.group.utf8), Array(String(ids.count).utf8)]
        ) { result in
            let withdrawn = ScriptAnswer(result) {
                decodeEach($0, count: ids.count) { v -> Bool? in
                    if case .integer(let n) = v { return n == 1 }
                    return nil
                }
            }
            let gone = QueueError("\(error); the task was not kept: submit again")
            let unknown = QueueError("\(error); a worker may have started the task already", outcomeUnknown: true)
            switch withdrawn {
            case .reply(let each): completion(each.map { $0 ? gone : unknown })
            default: completion(ids.map { _ in unknown })
            }
        }
    }

    /// Reads a task; nil when there is none (never existed, or expired).
    public func status(id: String, completion: @escaping (Result<TaskRecord?, QueueError>) -> Void) {
        redis.send(["HMGET", keys.task(id)] + TaskRecord.fields) { result in
            switch result {
            case .failure(let e): completion(.failure(QueueError("\(e)")))
            case .success(.error(let e)): completion(.failure(QueueError("HMGET: \(e)")))
            case .success(let value): completion(.success(TaskRecord(id: id, fields: value)))
            }
        }
    }

    /// An `XINFO` reply's flat name/value list as a dictionary.
    static func fields(_ value: RedisValue) -> [String: RedisValue]? {
        guard case .array(let items?) = value, items.count % 2 == 0 else { return nil }
        var out: [String: RedisValue] = [:]
        for i in stride(from: 0, to: items.count, by: 2) {
            if let name = items[i].string { out[name] = items[i + 1] }
        }
        return out
    }
}
