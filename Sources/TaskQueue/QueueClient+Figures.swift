// QueueClient+Figures: what readiness, shedding and metrics read — depth, backlog, counters, replicas.

public import MeshRedis

extension QueueClient {
    /// Figures of the queue for readiness and metrics.
    public struct Depth: Sendable, Hashable {
        /// Entries in the stream (waiting + being worked on).
        public var length: Int64 = 0
        /// Entries delivered to a worker and not yet acknowledged.
        public var pending: Int64 = 0
        /// Entries not yet delivered to any worker (Redis 7's consumer-group lag).
        public var lag: Int64 = 0
        /// Tasks waiting for a retry.
        public var delayed: Int64 = 0
        /// Entries in the dead-letter stream.
        public var dead: Int64 = 0
        /// When the oldest dead letter was written (Unix ms, Redis's clock); nil when there is none.
        public var oldestDeadMs: Int64?
        /// When the oldest entry delivered and not yet finished was submitted (its entry id's ms,
        /// Redis's clock); nil when none is pending.
        public var oldestPendingMs: Int64?
        public var consumers: Int64 = 0
    }

    /// Reads the queue's depth; fails when the group is missing (`XINFO GROUPS` shows none).
    public func depth(_ completion: @escaping (Result<Depth, QueueError>) -> Void) {
        var depth = Depth()
        var problem: QueueError?
        var remaining = 6
        func done() {
            remaining -= 1
            guard remaining == 0 else { return }
            completion(problem.map { .failure($0) } ?? .success(depth))
        }
        redis.send(["XINFO", "GROUPS", keys.stream]) { [keys] result in
            switch result {
            case .success(.array(let groups?)):
                let group = groups.compactMap(Self.fields).first { $0["name"]?.string == keys.group }
                if let group {
                    if case .integer(let n)? = group["pending"] { depth.pending = n }
                    if case .integer(let n)? = group["lag"] { depth.lag = n }
                    if case .integer(let n)? = group["consumers"] { depth.consumers = n }
                } else {
                    problem = QueueError("consumer group \(keys.group) of \(keys.stream) is missing")
                }
            case .success(.error(let e)): problem = QueueError("XINFO GROUPS: \(e)")
            case .success: problem = QueueError("XINFO GROUPS: unexpected reply")
            case .failure(let e): problem = QueueError("\(e)")
            }
            done()
        }
        // XPENDING's summary: [count, smallest id, greatest id, consumers]; the smallest id is the
        // oldest pending task's submit time. (A missing group is reported by XINFO above.)
        redis.send(["XPENDING", keys.stream, keys.group]) { result in
            if case .success(.array(let summary?)) = result, summary.count >= 2, let id = summary[1].string,
                let ms = id.split(separator: "-").first.flatMap({ Int64($0) })
            {
                depth.oldestPendingMs = ms
            }
            done()
        }
        redis.send(["XRANGE", keys.dead, "-", "+", "COUNT", "1"]) { result in
            if case .success(.array(let items?)) = result, let first = items.first.flatMap(DeadLetters.letter) {
                depth.oldestDeadMs = first.failedAtMs
            }
            done()
        }
        for (command, key) in [("XLEN", keys.stream), ("ZCARD", keys.delayed), ("XLEN", keys.dead)] {
            redis.send([command, key]) { [keys] result in
                if case .success(.integer(let n)) = result {
                    switch key {
                    case keys.stream: depth.length = n
                    case keys.delayed: depth.delayed = n
                    default: depth.dead = n
                    }
                } else if problem == nil {
                    problem = QueueError("\(command) \(key): \(result)")
                }
                done()
            }
        }
    }

    /// Replicas connected to the primary, from `ROLE`.
    public func replicaCount(_ completion: @escaping (Result<Int, QueueError>) -> Void) {
        redis.send(["ROLE"]) { result in
            switch result {
            case .success(let value):
                guard case .primary(let replicas)? = RedisRole(value) else {
                    return completion(.failure(QueueError("ROLE answered \(value): not a primary")))
                }
                completion(.success(replicas))
            case .failure(let e): completion(.failure(QueueError("\(e)")))
            }
        }
    }

    /// Tasks waiting or in work: the stream's entries (finished ones are deleted, so `XLEN` is
    /// exact, unlike the group's lag — an estimate Redis can get wrong after deletions and an AOF
    /// restart) plus retries waiting in the delayed set. Two commands, sent together.
    public func backlog(_ completion: @escaping (Result<Int64, QueueError>) -> Void) {
        var total: Int64 = 0
        var remaining = 2
        var problem: QueueError?
        for (command, key) in [("XLEN", keys.stream), ("ZCARD", keys.delayed)] {
            redis.send([command, key]) { result in
                if case .success(.integer(let n)) = result {
                    total += n
                } else {
                    problem = QueueError("\(command) \(key): \(result)")
                }
                remaining -= 1
                if remaining == 0 { completion(problem.map { .failure($0) } ?? .success(total)) }
            }
        }
    }

    /// The scripts' totals: `submitted`, `succeeded`, `failed`, `retried`, `poisoned`.
    public func counters(_ completion: @escaping (Result<[String: Int64], QueueError>) -> Void) {
        redis.send(["HGETALL", keys.counters]) { result in
            switch result {
            case .success(let value):
                var out: [String: Int64] = [:]
                for (name, v) in Self.fields(value) ?? [:] {
                    if let n = v.string.flatMap({ Int64($0) }) { out[name] = n }
                }
                completion(.success(out))
            case .failure(let e): completion(.failure(QueueError("\(e)")))
            }
        }
    }
}
