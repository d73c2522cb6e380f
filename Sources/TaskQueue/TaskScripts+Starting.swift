// TaskScripts+Starting: the scripts that start attempts — of a delivered batch, or read and started
// in one call.

public import MeshRedis

extension TaskScripts {
    /// The start scripts' common part: `stream`, `dead`, `counters` (KEYS[1...3]), `group`,
    /// `consumer` (ARGV[1...2]), and `startOne(task, entry, id, delivered)`, which starts one
    /// delivered entry held by this consumer (the policy — max deliveries, max attempts, result
    /// TTL, dead-letter cap — at ARGV[3] to ARGV[6]). Needs `prelude`.
    static let startingOne = """

        local stream, dead, counters = KEYS[1], KEYS[2], KEYS[3]
        local group, consumer = ARGV[1], ARGV[2]
        local function startOne(task, entry, id, delivered)
          local function drop()
            redis.call('XACK', stream, group, entry)
            redis.call('XDEL', stream, entry)
          end
          -- One call for the three fields (each redis.call has a fixed cost).
          local fields = redis.call('HMGET', task, 'state', 'attempts', 'message')
          local state, message = fields[1], fields[3]
          if not state then drop() return {'gone'} end
          if terminal(state) then drop() return {'done', state} end
          local attempts = tonumber(fields[2] or '0')
          local deliveries = tonumber(delivered)
          local err = nil
          if deliveries > tonumber(ARGV[3]) then
            err = 'poison: delivered ' .. deliveries .. ' times without finishing'
          elseif attempts >= tonumber(ARGV[4]) then
            err = 'the worker running attempt ' .. attempts .. ' of ' .. ARGV[4] .. ' died; no attempts left'
          end
          if err then
            redis.call('HSET', task, 'state', 'FAILURE', 'error', err, 'updated_at', nowText)
            record(task, 'FAILURE ' .. err)
            redis.call('HDEL', task, 'message')
            redis.call('EXPIRE', task, ARGV[5])
            redis.call('XADD', dead, 'MAXLEN', '~', ARGV[6], '*', 'task_id', id, 'error', err,
              'attempts', attempts, 'message', message or '')
            drop()
            redis.call('HINCRBY', counters, 'failed', 1)
            redis.call('HINCRBY', counters, 'poisoned', 1)
            return {'poison', err}
          end
          attempts = attempts + 1
          local attemptsText = tostring(attempts)
          if attempts == 1 then
            redis.call('HSET', task, 'state', 'STARTED', 'attempts', attemptsText, 'updated_at', nowText,
              'worker', consumer, 'started_at', nowText)
          else
            redis.call('HSET', task, 'state', 'STARTED', 'attempts', attemptsText, 'updated_at', nowText,
              'worker', consumer)
            record(task, 'STARTED attempt ' .. attemptsText)
          end
          return {'run', message or '', attemptsText}
        end
        """

    /// Starts attempts of delivered entries — a whole `XREADGROUP` batch in one call — each only if
    /// this consumer still holds it.
    ///
    /// KEYS: stream, dead, counters, then the task of each entry. ARGV: group, consumer, max
    /// deliveries, max attempts, result TTL s, dead-letter cap, then (entry, task id) for each.
    /// Returns one reply per entry, in order: `{"run", message, attempts}`; `{"lost"}` (another
    /// consumer holds it now); `{"gone"}` (no such task: entry dropped); `{"done", state}` (already
    /// terminal: entry dropped); `{"poison", error}` (delivered too often, or its last attempt died
    /// with its worker: failed and dead-lettered).
    public static func start() -> RedisScript {
        RedisScript(
            name: "start",
            source: prelude + startingOne + """

                local n = #KEYS - 3

                -- Who holds each entry, and how often it was delivered: one XPENDING for the whole
                -- batch (this consumer's entries from the batch's first id to its last — XREADGROUP
                -- delivers in stream order) instead of one per entry. An entry it does not list
                -- (another consumer holds it, or the batch was not in order) is asked for alone.
                local held = {}
                if n > 1 then
                  for _, p in ipairs(redis.call('XPENDING', stream, group, ARGV[7], ARGV[5 + 2 * n], 2 * n, consumer)) do
                    held[p[1]] = p[4]
                  end
                end
                local function deliveriesOf(entry)
                  if held[entry] then return held[entry] end
                  local p = redis.call('XPENDING', stream, group, entry, entry, 1)
                  if #p == 0 or p[1][2] ~= consumer then return nil end
                  return p[1][4]
                end
                local replies = {}
                for i = 1, n do
                  local entry = ARGV[5 + 2 * i]
                  local delivered = deliveriesOf(entry)
                  if delivered then
                    replies[i] = startOne(KEYS[3 + i], entry, ARGV[6 + 2 * i], delivered)
                  else
                    replies[i] = {'lost'}
                  end
                end
                return replies
                """)
    }

    /// Reads up to `count` new entries for this consumer (`XREADGROUP … >`, without blocking) and
    /// starts them, in one call: under load the worker's read and its STARTED writes are one
    /// round trip — and one AOF flush to wait for — instead of two. An entry read here was
    /// delivered once, to this consumer, just now: no `XPENDING` is needed.
    ///
    /// The tasks' keys are the task key prefix followed by the ids read (the script cannot know
    /// them before it reads); they share the stream's hash tag, so they live in its slot.
    ///
    /// It reads `chunk` entries at a time until `count` are read or the messages of those it started
    /// add up to `budget` bytes — the worker holds every message in flight — so one call starts at
    /// most `chunk` entries beyond the budget.
    ///
    /// KEYS: stream, dead, counters. ARGV: group, consumer, max deliveries, max attempts, result TTL
    /// s, dead-letter cap, count, task key prefix, budget (bytes), chunk.
    /// Returns `{entry, task id, reply}` per entry read, reply as `start`'s (`{"gone"}` for an
    /// entry without a task id, acknowledged); `{}` when nothing new is there.
    public static func readAndStart() -> RedisScript {
        RedisScript(
            name: "readAndStart",
            source: prelude + startingOne + """

                local count, budget, chunk = tonumber(ARGV[7]), tonumber(ARGV[9]), tonumber(ARGV[10])
                local replies, bytes = {}, 0
                while #replies < count and bytes < budget do
                  local want = math.min(chunk, count - #replies)
                  local read = redis.call('XREADGROUP', 'GROUP', group, consumer, 'COUNT', want, 'STREAMS', stream, '>')
                  if not read then break end
                  local entries = read[1][2]
                  for _, e in ipairs(entries) do
                    local entry, fields, id = e[1], e[2], nil
                    if fields then
                      for j = 1, #fields - 1, 2 do
                        if fields[j] == 'task_id' then id = fields[j + 1] end
                      end
                    end
                    if id then
                      local reply = startOne(ARGV[8] .. id, entry, id, 1)
                      if reply[1] == 'run' then bytes = bytes + #reply[2] end
                      replies[#replies + 1] = {entry, id, reply}
                    else
                      redis.call('XACK', stream, group, entry)
                      replies[#replies + 1] = {entry, '', {'gone'}}
                    end
                  end
                  if #entries < want then break end
                end
                return replies
                """)
    }
}
