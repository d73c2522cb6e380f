// DeadLetters: the tasks that failed for good — listed a page at a time, re-driven, kept for a while.

public import MeshRedis

/// One entry of the dead-letter stream. `message` is the raw text (a re-drive needs it): whoever
/// shows it to a person masks it first.
public struct DeadLetter: Sendable, Hashable {
    /// The dead-letter stream's entry id; its first part is when the task failed (ms, Redis's clock).
    public var entry: String
    public var taskID: String
    public var attempts: Int
    public var error: String
    public var message: String

    /// When the task was dead-lettered, in Unix ms.
    public var failedAtMs: Int64 { Int64(entry.prefix { $0 != "-" }) ?? 0 }
}

/// What a re-drive did: the tasks back in PENDING, and the ones refused with why.
public struct RedriveOutcome: Sendable, Hashable {
    public struct Refusal: Sendable, Hashable {
        public var taskID: String
        public var reason: String
    }

    public var redriven: [String] = []
    public var refused: [Refusal] = []
}

/// Reads and re-drives the dead-letter stream (`TaskKeys.dead`). A re-drive is one atomic script
/// per batch: the task goes back to PENDING with attempts reset, its message restored from the
/// dead letter (a task hash that expired meanwhile is made again), a fresh stream entry, and the
/// dead letter removed — so re-driving twice finds nothing the second time and does nothing.
/// A task that succeeded since (another copy ran) is refused and its dead letter kept for a person
/// to look at.
public final class DeadLetters {
    public let redis: RedisClient
    public let keys: TaskKeys
    let redriveScript = DeadLetters.redrive()
    let trimScript = DeadLetters.trim()
    /// Entries a re-drive script handles per call, so Redis never blocks long on a big stream.
    static let batch = 500

    public init(redis: RedisClient, keys: TaskKeys = TaskKeys()) {
        self.redis = redis
        self.keys = keys
        redis.register(redriveScript)
        redis.register(trimScript)
    }

    // MARK: Listing

    /// Up to `limit` dead letters older than entry `before` (nil: from the newest), newest first;
    /// `next` is the `before` of the following page, nil after the last; `total` the stream's length.
    public func list(
        limit: Int, before: String?,
        _ completion: @escaping (Result<(letters: [DeadLetter], next: String?, total: Int64), QueueError>) -> Void
    ) {
        let end = before.map { "(" + $0 } ?? "+"
        redis.send(["XREVRANGE", keys.dead, end, "-", "COUNT", String(limit + 1)]) { [keys] result in
            guard case .success(.array(let items?)) = result else {
                return completion(.failure(QueueError("XREVRANGE \(keys.dead): \(result)")))
            }
            var letters = items.compactMap(DeadLetters.letter)
            let more = letters.count > limit
            if more { letters.removeLast() }
            self.redis.send(["XLEN", keys.dead]) { lengthResult in
                guard case .success(.integer(let total)) = lengthResult else {
                    return completion(.failure(QueueError("XLEN \(keys.dead): \(lengthResult)")))
                }
                completion(.success((letters, more ? letters.last?.entry : nil, total)))
            }
        }
    }

    static func letter(_ item: RedisValue) -> DeadLetter? {
        guard case .array(let e?) = item, e.count == 2, let entry = e[0].string, let fields = QueueClient.fields(e[1])
        else { return nil }
        return DeadLetter(
            entry: entry, taskID: fields["task_id"]?.string ?? "",
            attempts: fields["attempts"]?.string.flatMap { Int($0) } ?? 0, error: fields["error"]?.string ?? "",
            message: fields["message"]?.string ?? "")
    }

    // MARK: Re-driving

    public enum Selection: Sendable, Hashable {
        case tasks([String])
        case oldest(Int)
        case all
    }

    /// Re-drives the selected dead letters, a batch per script call.
    public func redrive(_ selection: Selection, _ completion: @escaping (Result<RedriveOutcome, QueueError>) -> Void) {
        let outcome = RedriveOutcome()
        switch selection {
        case .tasks(let ids):
            // Each id's dead letters may be anywhere in the stream: the script looks through all
            // of it once (the stream is capped), for the whole list of ids.
            run(mode: "ids", after: "-", count: 0, ids: Array(Set(ids)).sorted(), into: outcome, completion)
        case .oldest(let n):
            run(mode: "oldest", after: "-", count: n, ids: [], into: outcome, completion)
        case .all:
            run(mode: "oldest", after: "-", count: Int.max, ids: [], into: outcome, completion)
        }
    }

    /// One script call over at most `batch` entries after entry `after`; again from where it
    /// stopped until `count` entries were looked at or the stream ends.
    private func run(
        mode: String, after: String, count: Int, ids: [String], into outcome: RedriveOutcome,
        _ completion: @escaping (Result<RedriveOutcome, QueueError>) -> Void
    ) {
        let take = mode == "ids" ? 0 : min(count, Self.batch)
        let arguments = [mode, after, String(take), keys.taskPrefix] + ids
        redis.eval(
            redriveScript, keys: [keys.dead, keys.stream, keys.counters],
            arguments: arguments.map { Array($0.utf8) }
        ) { [weak self] result in
            guard let self else { return }
            guard case .success(.array(let parts?)) = result, parts.count == 4, case .array(let done?) = parts[0],
                case .array(let refused?) = parts[1], let last = parts[2].string, case .integer(let seen) = parts[3]
            else {
                return completion(.failure(QueueError("redrive script answered \(result)")))
            }
            var outcome = outcome
            outcome.redriven += done.compactMap(\.string)
            for i in stride(from: 0, to: refused.count - 1, by: 2) {
                outcome.refused.append(.init(taskID: refused[i].string ?? "", reason: refused[i + 1].string ?? ""))
            }
            let left = count == Int.max ? Int.max : count - Int(seen)
            if mode == "oldest", seen == take, left > 0 {
                return self.run(mode: mode, after: last, count: left, ids: [], into: outcome, completion)
            }
            completion(.success(outcome))
        }
    }

    /// Removes dead letters older than `ttlSeconds` (by Redis's clock).
    public func trim(ttlSeconds: Int, _ completion: @escaping (Result<Int64, QueueError>) -> Void = { _ in }) {
        redis.eval(trimScript, keys: [keys.dead], arguments: [Array(String(ttlSeconds).utf8)]) { result in
            if case .success(.integer(let n)) = result { return completion(.success(n)) }
            completion(.failure(QueueError("trim script answered \(result)")))
        }
    }

    // MARK: Scripts

    /// KEYS: dead, stream, counters. ARGV: mode (`ids` | `oldest`), look after this entry id
    /// (exclusive; `-` from the start), how many entries to look at (`oldest`), the task key
    /// prefix, then the task ids (`ids`).
    /// Returns `{redriven ids}, {refused id, reason, …}, last entry looked at, entries looked at`.
    static func redrive() -> RedisScript {
        RedisScript(
            name: "redrive",
            source: TaskScripts.prelude + """

                local dead, stream, counters = KEYS[1], KEYS[2], KEYS[3]
                local mode, after, take, prefix = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
                local start = after == '-' and '-' or '(' .. after
                local entries
                local wanted = {}
                if mode == 'ids' then
                  for i = 5, #ARGV do wanted[ARGV[i]] = true end
                  entries = redis.call('XRANGE', dead, '-', '+')
                else
                  entries = redis.call('XRANGE', dead, start, '+', 'COUNT', take)
                end
                local done, refused, found, redriven = {}, {}, {}, {}
                local function refuse(id, why) table.insert(refused, id) table.insert(refused, why) end
                -- Why a task in `state` is not re-driven; nil when it may be (FAILURE, or its
                -- record expired).
                local function refusal(state)
                  if state == 'SUCCESS' then return 'already succeeded' end
                  if state and state ~= 'FAILURE' then return 'not dead-lettered (state ' .. state .. ')' end
                end
                local last = after
                for _, e in ipairs(entries) do
                  last = e[1]
                  local f = {}
                  for i = 1, #e[2], 2 do f[e[2][i]] = e[2][i + 1] end
                  local id = f['task_id']
                  if id and (mode ~= 'ids' or wanted[id]) and not found[id] then
                    found[id] = true
                    local key = prefix .. id
                    local state = redis.call('HGET', key, 'state')
                    local why = refusal(state)
                    if why then
                      refuse(id, why)
                    else
                      local entry = redis.call('XADD', stream, '*', 'task_id', id)
                      if state then
                        redis.call('HSET', key, 'state', 'PENDING', 'attempts', '0', 'message', f['message'] or '',
                          'updated_at', nowText, 'entry', entry)
                        -- The first start moves into the history (it precedes every line there).
                        local first = redis.call('HGET', key, 'started_at')
                        if first then
                          redis.call('HSET', key, 'history',
                            first .. ' STARTED attempt 1\\n' .. (redis.call('HGET', key, 'history') or ''))
                        end
                        redis.call('HDEL', key, 'error', 'retry_at', 'result', 'worker', 'started_at')
                        redis.call('PERSIST', key)
                        record(key, 'PENDING re-driven by an operator; attempts start again')
                      else
                        -- Its record expired (results are kept for less time than dead letters).
                        redis.call('HSET', key, 'state', 'PENDING', 'message', f['message'] or '', 'attempts', '0',
                          'created_at', nowText, 'updated_at', nowText, 'entry', entry)
                      end
                      redis.call('XDEL', dead, e[1])
                      table.insert(done, id)
                      redriven[id] = true
                    end
                  elseif id and redriven[id] then
                    -- Another dead letter of a task re-driven in this call.
                    redis.call('XDEL', dead, e[1])
                  end
                end
                if mode == 'ids' then
                  for i = 5, #ARGV do
                    local id = ARGV[i]
                    if not found[id] then
                      -- No dead letter: a FAILURE is not (or no longer) dead-lettered either.
                      local state = redis.call('HGET', prefix .. id, 'state')
                      refuse(id, refusal(state) or (state and 'not dead-lettered (state FAILURE)')
                        or 'no dead letter and no task with this id')
                    end
                  end
                end
                if #done > 0 then redis.call('HINCRBY', counters, 'redriven', #done) end
                return {done, refused, last, #entries}
                """)
    }

    /// KEYS: dead. ARGV: TTL s. Returns how many entries were removed.
    static func trim() -> RedisScript {
        RedisScript(
            name: "trimDead",
            source: TaskScripts.prelude + """

                return redis.call('XTRIM', KEYS[1], 'MINID', tostring(now - tonumber(ARGV[1]) * 1000))
                """)
    }
}
