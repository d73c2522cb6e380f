// Sentinel: finding a primary through Redis Sentinel, and hearing when it moves.

import MeshLoop

/// Asks Sentinels in turn where the primary of `masterName` is (`SENTINEL
/// get-master-addr-by-name`), each under a deadline: a Sentinel on a host that is gone costs
/// `timeoutMs`, not a TCP connect timeout. The one that answered is asked first next time, as
/// Sentinel's client guidelines suggest. When every Sentinel refuses us (credentials, ACL), the
/// failure is marked `isConfiguration`: one Sentinel set up wrong is a Sentinel down, all of them
/// is a mistake no retry fixes.
final class SentinelDiscovery {
    let loop: EventLoop
    let masterName: String
    private(set) var sentinels: [RedisEndpoint]
    let credentials: RedisCredentials?
    let timeoutMs: UInt64
    private var timer: LoopTimer?
    private var connection: RedisConnection?
    /// Bumped by every `find` and `cancel`: answers of an abandoned search are dropped.
    private var generation = 0

    init(
        loop: EventLoop, masterName: String, sentinels: [RedisEndpoint], credentials: RedisCredentials?,
        timeoutMs: UInt64
    ) {
        self.loop = loop
        self.masterName = masterName
        self.sentinels = sentinels
        self.credentials = credentials
        self.timeoutMs = timeoutMs
    }

    /// Finds the primary; `completion` runs once, on the loop, unless `cancel()` comes first.
    func find(_ completion: @escaping (Result<RedisEndpoint, RedisError>) -> Void) {
        cancel()
        if timer == nil {
            do {
                timer = try LoopTimer(loop: loop)
            } catch {
                return completion(.failure(RedisError("cannot create a timer: \(error)")))
            }
        }
        ask(0, problems: [], refusals: 0, generation: generation, completion)
    }

    func cancel() {
        generation += 1
        timer?.stop()
        connection?.abort()
        connection = nil
    }

    func close() {
        cancel()
        timer?.close()
        timer = nil
    }

    private func ask(
        _ index: Int, problems: [String], refusals: Int, generation: Int,
        _ completion: @escaping (Result<RedisEndpoint, RedisError>) -> Void
    ) {
        guard index < sentinels.count else {
            var error = RedisError("no Sentinel named the primary \(masterName): \(problems.joined(separator: "; "))")
            error.isConfiguration = refusals == sentinels.count
            return completion(.failure(error))
        }
        let sentinel = sentinels[index]
        let c = RedisConnection(loop: loop, endpoint: sentinel)
        connection = c
        var answered = false
        let next = { [weak self] (problem: String, refused: Bool) in
            guard let self, !answered, self.generation == generation else { return }
            answered = true
            self.timer?.stop()
            c.abort()
            self.connection = nil
            self.ask(
                index + 1, problems: problems + ["\(sentinel): \(problem)"], refusals: refusals + (refused ? 1 : 0),
                generation: generation, completion)
        }
        timer?.start(afterMs: timeoutMs) { next("no answer in \(self.timeoutMs) ms", false) }
        c.connect(as: credentials) { [weak self] result in
            guard let self, !answered, self.generation == generation else { return }
            if case .failure(let error) = result { return next("\(error)", error.isConfiguration) }
            c.send(["SENTINEL", "get-master-addr-by-name", self.masterName]) { [weak self] reply in
                guard let self, !answered, self.generation == generation else { return }
                guard let primary = Self.primary(in: reply) else {
                    if case .success(.error(let e)) = reply, let refusal = RedisError.configuration(reply: e) {
                        return next(refusal.message, true)
                    }
                    return next("answered \((try? reply.get()).map { "\($0)" } ?? "nothing")", false)
                }
                answered = true
                self.timer?.stop()
                c.abort()
                self.connection = nil
                if index > 0 { self.sentinels.insert(self.sentinels.remove(at: index), at: 0) }
                completion(.success(primary))
            }
        }
    }

    /// `["host", "port"]`; a null reply means the Sentinel does not know the name.
    static func primary(in reply: Result<RedisValue, RedisError>) -> RedisEndpoint? {
        guard case .success(.array(let items?)) = reply, items.count == 2, let host = items[0].string,
            !host.isEmpty, let port = items[1].string.flatMap({ UInt16($0) }), port != 0
        else { return nil }
        return .tcp(host: host, port: port)
    }

    /// A `+switch-master` message: `<name> <old-ip> <old-port> <new-ip> <new-port>`.
    static func switchedPrimary(_ payload: [UInt8], masterName: String) -> RedisEndpoint? {
        let parts = String(decoding: payload, as: UTF8.self).split(separator: " ")
        guard parts.count == 5, parts[0] == masterName, let port = UInt16(parts[4]), port != 0 else { return nil }
        return .tcp(host: String(parts[3]), port: port)
    }
}

/// Keeps a subscription to `+switch-master` on one of the Sentinels, moving to the next when its
/// connection is lost, and reports each failover of `masterName`. (Hearing it is a shortcut:
/// a client that misses it still finds the new primary when its connection drops or the old one
/// answers `-READONLY`.)
final class SentinelWatch {
    let loop: EventLoop
    let masterName: String
    let sentinels: [RedisEndpoint]
    let credentials: RedisCredentials?
    var onSwitch: ((RedisEndpoint) -> Void)?
    private var connection: RedisConnection?
    private var timer: LoopTimer?
    private var next = 0
    private var stopped = false

    init(loop: EventLoop, masterName: String, sentinels: [RedisEndpoint], credentials: RedisCredentials?) {
        self.loop = loop
        self.masterName = masterName
        self.sentinels = sentinels
        self.credentials = credentials
    }

    func start() throws(UVError) {
        timer = try LoopTimer(loop: loop)
        subscribe()
    }

    private func subscribe() {
        guard !stopped else { return }
        let sentinel = sentinels[next % sentinels.count]
        next += 1
        let c = RedisConnection(loop: loop, endpoint: sentinel)
        connection = c
        // A Sentinel on a host that is gone would hold the connect for minutes: give it a second.
        timer?.start(afterMs: 1_000) { [weak self] in
            guard let self, self.connection === c, !c.isConnected else { return }
            c.abort()
            self.retry(c)
        }
        // Refused credentials are retried like a lost Sentinel: discovery reports them.
        c.connect(as: credentials) { [weak self] result in
            guard let self, self.connection === c else { return }
            guard case .success = result else { return self.retry(c) }
            self.timer?.stop()
            c.onDisconnect = { [weak self] _ in self?.retry(c) }
            c.subscribe("+switch-master") { [weak self] payload in
                guard let self, let primary = SentinelDiscovery.switchedPrimary(payload, masterName: self.masterName)
                else { return }
                self.onSwitch?(primary)
            }
        }
    }

    private func retry(_ c: RedisConnection) {
        guard !stopped, connection === c else { return }
        connection = nil
        c.abort()  // connected but refused (credentials): not left open
        // Every Sentinel tried once: wait a little before going round again.
        let delay: UInt64 = next % sentinels.count == 0 ? 500 : 0
        timer?.start(afterMs: delay) { [weak self] in self?.subscribe() }
    }

    func close() {
        stopped = true
        let c = connection
        connection = nil
        c?.abort()
        timer?.close()
        timer = nil
    }
}
