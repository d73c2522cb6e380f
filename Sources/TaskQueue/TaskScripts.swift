// TaskScripts: every state change of a task, as one atomic Lua script each.

public import MeshRedis

/// The Lua scripts that move tasks. Each runs atomically in Redis, reads the task's state first
/// and never leaves a terminal state (SUCCESS, FAILURE): stickiness is enforced by the server, so
/// a slow or duplicate worker cannot undo a result. Times come from Redis's own clock (`TIME`), so
/// workers with skewed clocks agree.
public enum TaskScripts {
    /// The start of every script that ends an attempt: the entry leaves the pending list and the
    /// stream whatever happens (the task is being finished, by us or by whoever came first), then
    /// a gone or terminal task is left as it is. KEYS[1] is the task, KEYS[2] the stream; ARGV[1]
    /// the group, ARGV[2] the entry.
    static let finishing = """

        redis.call('XACK', KEYS[2], ARGV[1], ARGV[2])
        redis.call('XDEL', KEYS[2], ARGV[2])
        local state = redis.call('HGET', KEYS[1], 'state')
        if not state then return 'gone' end
        if terminal(state) then return 'duplicate' end

        """

    static let prelude = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        -- Written into hashes as text made once: a Lua number given to redis.call is formatted
        -- with snprintf("%.17g") at every call.
        local nowText = tostring(now)
        local function terminal(state) return state == 'SUCCESS' or state == 'FAILURE' end
        -- A task's history: one line per transition off the happy path ("<ms> <STATE> <detail>"),
        -- the newest 4 KiB kept. Submit, the first start and SUCCESS have fields of their own
        -- (created_at, started_at, updated_at), so a task that just succeeds writes none.
        local function record(task, line)
          local h = (redis.call('HGET', task, 'history') or '') .. nowText .. ' ' .. line .. '\\n'
          if #h > 4096 then h = string.sub(h, (string.find(h, '\\n', #h - 4096, true) or 0) + 1) end
          redis.call('HSET', task, 'history', h)
        end
        """

    /// `create(stream, task, id, message)`: a new task's stream entry and its PENDING hash — the
    /// step both submit scripts share. Needs `prelude`'s `now`.
    static let creating = """

        local function create(stream, task, id, message)
          local entry = redis.call('XADD', stream, '*', 'task_id', id)
          redis.call('HSET', task, 'state', 'PENDING', 'message', message, 'attempts', '0',
            'created_at', nowText, 'updated_at', nowText, 'entry', entry)
        end
        """

    /// Creates a task that came with an Idempotency-Key: the hash and the stream entry together,
    /// or the existing task of that key. (Submits without a key go through `submitMany`.)
    ///
    /// KEYS: task, stream, idem, counters. ARGV: id, message, idem TTL s.
    /// Returns `{"created", id, now}`, `{"existing", id}` or `{"conflict", id}` (the key was used
    /// for another message).
    public static func submit() -> RedisScript {
        RedisScript(
            name: "submit",
            source: prelude + creating + """

                local digest = redis.sha1hex(ARGV[2])
                local existing = redis.call('GET', KEYS[3])
                if existing then
                  local sp = string.find(existing, ' ', 1, true)
                  local id = string.sub(existing, 1, sp - 1)
                  if string.sub(existing, sp + 1) ~= digest then return {'conflict', id} end
                  return {'existing', id}
                end
                redis.call('SET', KEYS[3], ARGV[1] .. ' ' .. digest, 'EX', ARGV[3])
                create(KEYS[2], KEYS[1], ARGV[1], ARGV[2])
                redis.call('HINCRBY', KEYS[4], 'submitted', 1)
                return {'created', ARGV[1], tostring(now)}
                """)
    }

    /// Creates tasks without an Idempotency-Key — every submit of one loop turn in one call.
    ///
    /// KEYS: stream, counters, then the task of each. ARGV: `packSubmits`' two arguments — the
    /// byte lengths of each task's id and message, and those ids and messages end to end.
    /// Returns `now` (ms, Redis's clock); every task is created, or none when the arguments do
    /// not match the keys.
    public static func submitMany() -> RedisScript {
        RedisScript(
            name: "submitMany",
            source: prelude + creating + """

                local n, lengths, total = #KEYS - 2, {}, 0
                for l in string.gmatch(ARGV[1], '%d+') do
                  lengths[#lengths + 1] = tonumber(l)
                  total = total + lengths[#lengths]
                end
                -- Checked before the first write: a script that fails halfway keeps what it wrote.
                if #lengths ~= 2 * n or total ~= #ARGV[2] then
                  return redis.error_reply('ERR submitMany: the packed ids and messages do not match the keys')
                end
                local packed, at = ARGV[2], 1
                for i = 1, n do
                  local idEnd = at + lengths[2 * i - 1]
                  local messageEnd = idEnd + lengths[2 * i]
                  create(KEYS[1], KEYS[2 + i], string.sub(packed, at, idEnd - 1), string.sub(packed, idEnd, messageEnd - 1))
                  at = messageEnd
                end
                redis.call('HINCRBY', KEYS[2], 'submitted', n)
                return tostring(now)
                """)
    }

    /// `submitMany`'s arguments for these tasks: their ids' and messages' byte lengths as text,
    /// then the ids and messages end to end in one argument.
    ///
    /// Why one argument: Redis reads a connection's input at most 16 KiB per event-loop turn —
    /// except a bulk argument of 32 KiB or more, which it reads whole — and with `appendfsync
    /// always` a turn that writes ends in an fsync. A busy api-service's batch of hundreds of
    /// messages, each its own argument, took a turn and an fsync per 16 KiB, which capped
    /// submits at the bytes a turn reads; packed, a batch is read in two or three turns.
    public static func packSubmits(_ tasks: [(id: String, message: [UInt8])]) -> [[UInt8]] {
        var lengths: [UInt8] = []
        var packed: [UInt8] = []
        lengths.reserveCapacity(tasks.count * 8)
        packed.reserveCapacity(tasks.reduce(0) { $0 + $1.id.utf8.count + $1.message.count })
        for (i, task) in tasks.enumerated() {
            if i > 0 { lengths.append(UInt8(ascii: " ")) }
            lengths.append(contentsOf: String(task.id.utf8.count).utf8)
            lengths.append(UInt8(ascii: " "))
            lengths.append(contentsOf: String(task.message.count).utf8)
            packed.append(contentsOf: task.id.utf8)
            packed.append(contentsOf: task.message)
        }
        return [lengths, packed]
    }

    /// Takes back tasks just created whose writes no replica confirmed (their submit is answered
    /// 503): each one still PENDING and never started is deleted with its stream entry, so a
    /// client that was told "not stored" does not find it run anyway. One a worker has started
    /// already is kept (its submit's outcome is unknown to the client). The Idempotency-Key, when
    /// given, goes with its task.
    ///
    /// KEYS: stream, counters, the task of each, then optionally the idempotency key. ARGV: group,
    /// number of tasks.
    /// Returns, per task, 1 (withdrawn) or 0 (kept: started, or gone).
    public static func withdraw() -> RedisScript {
        RedisScript(
            name: "withdraw",
            source: """
                local n = tonumber(ARGV[2])
                local replies, withdrawn = {}, 0
                for i = 1, n do
                  local task = KEYS[2 + i]
                  local fields = redis.call('HMGET', task, 'state', 'attempts', 'entry')
                  if fields[1] == 'PENDING' and (fields[2] or '0') == '0' then
                    if fields[3] then
                      redis.call('XACK', KEYS[1], ARGV[1], fields[3])
                      redis.call('XDEL', KEYS[1], fields[3])
                    end
                    redis.call('DEL', task)
                    withdrawn = withdrawn + 1
                    replies[i] = 1
                  else
                    replies[i] = 0
                  end
                end
                if withdrawn > 0 then
                  redis.call('HINCRBY', KEYS[2], 'submitted', -withdrawn)
                  redis.call('HINCRBY', KEYS[2], 'withdrawn', withdrawn)
                end
                if #KEYS > 2 + n and withdrawn == n then redis.call('DEL', KEYS[#KEYS]) end
                return replies
                """)
    }

    /// Stores results, sets SUCCESS, acknowledges and deletes the entries — one atomic step for a
    /// whole batch (the tasks a worker finished in one loop turn: one script call, one `XACK` and
    /// one `XDEL` for all of them, instead of one of each per task).
    ///
    /// KEYS: stream, counters, then the task of each entry. ARGV: group, result TTL s, then
    /// (entry, result JSON) for each.
    /// Returns one reply per task, in order: `"ok"`, `"duplicate"` (already terminal: nothing
    /// changed) or `"gone"`.
    public static func succeed() -> RedisScript {
        RedisScript(
            name: "succeed",
            source: prelude + """

                local stream, counters, group, ttl = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
                local entries = {}
                for i = 1, #KEYS - 2 do entries[i] = ARGV[1 + 2 * i] end
                -- The entries leave the pending list and the stream whatever happens (the task is
                -- being finished, by us or by whoever came first).
                redis.call('XACK', stream, group, unpack(entries))
                redis.call('XDEL', stream, unpack(entries))
                local replies, ok = {}, 0
                for i = 1, #KEYS - 2 do
                  local task = KEYS[2 + i]
                  local state = redis.call('HGET', task, 'state')
                  if not state then
                    replies[i] = 'gone'
                  elseif terminal(state) then
                    replies[i] = 'duplicate'
                  else
                    redis.call('HSET', task, 'state', 'SUCCESS', 'result', ARGV[2 + 2 * i], 'updated_at', nowText)
                    redis.call('HDEL', task, 'message', 'error', 'retry_at')
                    redis.call('EXPIRE', task, ttl)
                    replies[i] = 'ok'
                    ok = ok + 1
                  end
                end
                if ok > 0 then redis.call('HINCRBY', counters, 'succeeded', ok) end
                return replies
                """)
    }

    /// Schedules a retry: RETRY, the error, a due time in the delayed set; the entry leaves the
    /// pending list (a delayed retry never sits there).
    ///
    /// KEYS: task, stream, delayed, counters. ARGV: group, entry, error, delay ms, task id.
    /// Returns `"ok"`, `"duplicate"` or `"gone"`.
    public static func retry() -> RedisScript {
        RedisScript(
            name: "retry",
            source: prelude + finishing + """
                local due = now + tonumber(ARGV[4])
                redis.call('HSET', KEYS[1], 'state', 'RETRY', 'error', ARGV[3], 'updated_at', nowText, 'retry_at', due)
                record(KEYS[1], 'RETRY ' .. ARGV[3])
                redis.call('ZADD', KEYS[3], due, ARGV[5])
                redis.call('HINCRBY', KEYS[4], 'retried', 1)
                return 'ok'
                """)
    }

    /// Puts back a task whose attempt no service took: PENDING again with the attempt that `start`
    /// counted taken back, the reason as its error, and a due time in the delayed set (the entry
    /// leaves the pending list and the stream, as for a retry).
    ///
    /// KEYS: task, stream, delayed, counters. ARGV: group, entry, reason, delay ms, task id.
    /// Returns `"ok"`, `"duplicate"` or `"gone"`.
    public static func postpone() -> RedisScript {
        RedisScript(
            name: "postpone",
            source: prelude + finishing + """
                local due = now + tonumber(ARGV[4])
                local attempts = tonumber(redis.call('HGET', KEYS[1], 'attempts') or '0')
                if attempts > 0 then attempts = attempts - 1 end
                redis.call('HSET', KEYS[1], 'state', 'PENDING', 'attempts', tostring(attempts), 'error', ARGV[3],
                  'updated_at', nowText, 'retry_at', due)
                record(KEYS[1], 'PENDING ' .. ARGV[3])
                redis.call('ZADD', KEYS[3], due, ARGV[5])
                redis.call('HINCRBY', KEYS[4], 'postponed', 1)
                return 'ok'
                """)
    }

    /// Fails a task for good: FAILURE with the error, a copy (with its message) in the capped
    /// dead-letter stream, the entry acknowledged and deleted.
    ///
    /// KEYS: task, stream, dead, counters. ARGV: group, entry, error, result TTL s, task id, dead-letter cap.
    /// Returns `"ok"`, `"duplicate"` or `"gone"`.
    public static func fail() -> RedisScript {
        RedisScript(
            name: "fail",
            source: prelude + finishing + """
                local message = redis.call('HGET', KEYS[1], 'message') or ''
                local attempts = redis.call('HGET', KEYS[1], 'attempts') or '0'
                redis.call('HSET', KEYS[1], 'state', 'FAILURE', 'error', ARGV[3], 'updated_at', nowText)
                record(KEYS[1], 'FAILURE ' .. ARGV[3])
                redis.call('HDEL', KEYS[1], 'message', 'retry_at')
                redis.call('EXPIRE', KEYS[1], ARGV[4])
                redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'task_id', ARGV[5], 'error', ARGV[3],
                  'attempts', attempts, 'message', message)
                redis.call('HINCRBY', KEYS[4], 'failed', 1)
                return 'ok'
                """)
    }

    /// Moves retries (and postponed tasks) that are due from the delayed set back onto the stream.
    ///
    /// KEYS: delayed, stream. ARGV: at most this many, task key prefix.
    /// Returns how many ids were due (moved, or dropped when no longer waiting: RETRY or PENDING).
    ///
    /// The task hashes are reached through the prefix rather than declared keys; they share the
    /// hash tag, so they live in the script's slot on a cluster too.
    public static func promote() -> RedisScript {
        RedisScript(
            name: "promote",
            source: prelude + """

                local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
                for _, id in ipairs(due) do
                  redis.call('ZREM', KEYS[1], id)
                  local key = ARGV[2] .. id
                  local state = redis.call('HGET', key, 'state')
                  if state == 'RETRY' or state == 'PENDING' then
                    local entry = redis.call('XADD', KEYS[2], '*', 'task_id', id)
                    redis.call('HSET', key, 'entry', entry)
                  end
                end
                return #due
                """)
    }

    /// Renews the lease on entries this consumer still holds (resets their idle time without
    /// counting a delivery); never takes back an entry another consumer has claimed.
    ///
    /// KEYS: stream. ARGV: group, consumer, entry ids…
    /// Returns the entries no longer held.
    public static func renew() -> RedisScript {
        RedisScript(
            name: "renew",
            source: """
                local lost = {}
                for i = 3, #ARGV do
                  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
                  if #p == 1 and p[1][2] == ARGV[2] then
                    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
                  else
                    table.insert(lost, ARGV[i])
                  end
                end
                return lost
                """)
    }
}
