// RedisClient+Commands: sending commands and scripts — deadlines, replica waits, end-of-turn work.

public import MeshLoop

extension RedisClient {
    /// Sends a command; `completion` runs once, on the loop: with Redis's reply (an error reply is a
    /// value), or with a `RedisError` when there is no connection, it is lost, or `timeoutMs`
    /// (default `commandTimeoutMs`) passes first.
    public func send(
        _ arguments: [String], timeoutMs: UInt64? = nil,
        completion: @escaping (Result<RedisValue, RedisError>) -> Void
    ) {
        send(arguments.map { Array($0.utf8) }, timeoutMs: timeoutMs, completion: completion)
    }

    public func send(
        _ arguments: [[UInt8]], timeoutMs: UInt64? = nil,
        completion: @escaping (Result<RedisValue, RedisError>) -> Void
    ) {
        loop.assertInLoop()
        stats.commands += 1
        guard connected, let c = connection else {
            stats.failures += 1
            return completion(
                .failure(RedisError("not connected to redis at \(service)" + (lastError.map { ": \($0)" } ?? ""))))
        }
        let deadline = loop.nowMs + (timeoutMs ?? configuration.commandTimeoutMs)
        deadlines.append(deadline)
        if deadlines.count - deadlineHead == 1 { armDeadline(deadline) }
        c.send(arguments) { [weak self] result in
            if let self, self.connection === c {
                self.replyArrived()
                if case .success(.error(let e)) = result {
                    self.checkRole(c, result)
                    self.checkConfiguration(e)
                }
            }
            if case .failure = result { self?.stats.failures += 1 }
            completion(result)
        }
    }

    /// Runs a registered script by its SHA (or its source when the server has not loaded it).
    /// With `replicated`, the script's writes must also reach `minReplicas` replicas (see
    /// `send(_:replicated:…)`).
    public func eval(
        _ script: RedisScript, keys: [String], arguments: [[UInt8]], timeoutMs: UInt64? = nil,
        replicated: Bool = false, completion: @escaping (Result<RedisValue, RedisError>) -> Void
    ) {
        let tail = [Array(String(keys.count).utf8)] + keys.map { Array($0.utf8) } + arguments
        let bySource = [Array("EVAL".utf8), Array(script.source.utf8)] + tail
        guard let sha = script.sha else {
            return send(bySource, replicated: replicated, timeoutMs: timeoutMs, completion: completion)
        }
        send([Array("EVALSHA".utf8), Array(sha.utf8)] + tail, replicated: replicated, timeoutMs: timeoutMs) {
            [weak self] result in
            if case .success(.error(let e)) = result, e.hasPrefix("NOSCRIPT"), let self {
                script.sha = nil
                self.load(script)
                return self.send(bySource, replicated: replicated, timeoutMs: timeoutMs, completion: completion)
            }
            completion(result)
        }
    }

    /// Sends a write; with `replicated` and `minReplicas` > 0, a `WAIT` goes right behind it on
    /// the same connection (one round trip), and the command counts as done only when enough
    /// replicas confirmed: otherwise `completion` gets a `RedisError` whose `unreplicated` holds
    /// the command's reply. An error reply returns at once (nothing was written).
    public func send(
        _ arguments: [[UInt8]], replicated: Bool, timeoutMs: UInt64? = nil,
        completion: @escaping (Result<RedisValue, RedisError>) -> Void
    ) {
        let wanted = configuration.minReplicas
        guard replicated, wanted > 0 else { return send(arguments, timeoutMs: timeoutMs, completion: completion) }
        var reply: Result<RedisValue, RedisError>?
        send(arguments, timeoutMs: timeoutMs) { result in
            reply = result
            if case .success(.error) = result { completion(result) }
        }
        let waitMs = configuration.replicaTimeoutMs
        let wait = ["WAIT", String(wanted), String(waitMs)].map { Array($0.utf8) }
        send(wait, timeoutMs: waitMs + (timeoutMs ?? configuration.commandTimeoutMs)) { [weak self] waited in
            guard let reply else { return }
            guard case .success(let value) = reply else { return completion(reply) }
            if value.isError { return }  // answered already
            switch waited {
            case .success(.integer(let n)) where n >= wanted:
                completion(reply)
            case .success(let other):
                self?.stats.unreplicated += 1
                let why: String
                if case .integer(let n) = other {
                    why = "\(n) of \(wanted) replicas confirmed the write within \(waitMs) ms"
                } else {
                    why = "WAIT answered \(other)"
                }
                completion(.failure(RedisError("not replicated: \(why)", unreplicated: value)))
            case .failure(let error):
                // The write ran; whether it reached a replica is unknown.
                self?.stats.unreplicated += 1
                completion(.failure(RedisError("not replicated: \(error)", unreplicated: value)))
            }
        }
    }

    /// Runs `body` on the loop after every callback of the current turn — where a caller gathers
    /// what those callbacks asked for into one command (see `QueueClient.submit`). Before `start()`
    /// or after `close()`, `body` runs at once.
    public func atEndOfTurn(_ body: @escaping () -> Void) {
        loop.assertInLoop()
        guard let turnEnd else { return body() }
        endOfTurn.append(body)
        turnEnd.runOnce { [weak self] in self?.runEndOfTurn() }
    }

    func runEndOfTurn() {
        let work = endOfTurn
        endOfTurn.removeAll(keepingCapacity: true)
        for body in work { body() }
    }

    func replyArrived() {
        deadlineHead += 1
        if deadlineHead == deadlines.count {
            deadlines.removeAll(keepingCapacity: true)
            deadlineHead = 0
            deadlineTimer?.stop()
        } else if deadlineHead > 1024 {
            deadlines.removeFirst(deadlineHead)
            deadlineHead = 0
        }
    }

    /// Replies come in order, so only the oldest deadline matters. Later commands may carry an
    /// earlier deadline (a short GET behind a long BLOCK read): the check fires at the soonest of
    /// the oldest's and every 100 ms while commands are out.
    func armDeadline(_ deadline: UInt64) {
        let now = loop.nowMs
        let wait = deadline > now ? min(deadline - now, 100) : 0
        deadlineTimer?.start(afterMs: wait) { [weak self] in self?.checkDeadlines() }
    }

    func checkDeadlines() {
        guard deadlineHead < deadlines.count, let c = connection else { return }
        let now = loop.nowMs
        if deadlines[deadlineHead...].contains(where: { $0 <= now }) {
            stats.timeouts += 1
            let error = RedisError(
                "redis at \(server.map { "\($0)" } ?? "\(service)") did not answer in time; reconnecting")
            lastError = error
            c.abort()  // fails every command in flight at once; lost() schedules the reconnect
            return
        }
        armDeadline(deadlines[deadlineHead])
    }
}
