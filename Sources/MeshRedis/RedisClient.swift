// RedisClient: a Redis connection that comes back by itself, with command deadlines and scripts.

public import MeshLoop

/// A Lua script run with `EVALSHA`, falling back to `EVAL` when the server does not know it.
///
/// The client loads registered scripts (`SCRIPT LOAD`) after every connect, so a restarted
/// redis-server (whose script cache is empty) costs at most one `EVAL` per script.
public final class RedisScript {
    public let name: String
    public let source: String
    fileprivate var sha: String?

    public init(name: String, source: String) {
        self.name = name
        self.source = source
    }
}

/// One logical Redis client: reconnects with exponential backoff whenever the connection is lost,
/// fails commands at once while disconnected (callers answer 503 instead of waiting), and puts a
/// deadline on every command — hiredis 0.14 has none, so an overdue reply closes the connection
/// (its pipeline is out of step by then) and every waiting command fails.
///
/// ```swift
/// let redis = RedisClient(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 6379))
/// redis.onConnect = { redis.send(["XGROUP", "CREATE", "s", "g", "0", "MKSTREAM"]) { _ in } }
/// redis.start()
/// ```
public final class RedisClient {
    public struct Configuration: Sendable {
        /// Default deadline of a command.
        public var commandTimeoutMs: UInt64 = 5_000
        public var reconnectInitialMs: UInt64 = 100
        public var reconnectMaxMs: UInt64 = 5_000

        public init() {}
    }

    public struct Stats: Sendable {
        public var connects: UInt64 = 0
        public var disconnects: UInt64 = 0
        public var commands: UInt64 = 0
        /// Commands that got no reply (not connected, connection lost, deadline passed).
        public var failures: UInt64 = 0
        public var timeouts: UInt64 = 0

        /// The counters under their metric names, for `_sys.Stats` and `/metrics`.
        public func figures() -> [String: Double] {
            [
                "redis_connects_total": Double(connects), "redis_disconnects_total": Double(disconnects),
                "redis_commands_total": Double(commands), "redis_command_failures_total": Double(failures),
                "redis_command_timeouts_total": Double(timeouts),
            ]
        }
    }

    public let loop: EventLoop
    public let endpoint: RedisEndpoint
    public let configuration: Configuration
    /// Runs after every successful (re)connect, once registered scripts are being loaded.
    public var onConnect: (() -> Void)?
    /// Runs when an established connection is lost.
    public var onDisconnect: ((RedisError) -> Void)?
    public private(set) var stats = Stats()
    /// The last connection problem, for readiness answers and logs.
    public private(set) var lastError: RedisError?

    private var connection: RedisConnection?
    private var connected = false
    private var stopped = true
    private var reconnectAttempt = 0
    private var reconnectTimer: LoopTimer?
    private var deadlineTimer: LoopTimer?
    /// Runs `endOfTurn` work once the current loop turn's callbacks are done.
    private var turnEnd: LoopIdle?
    private var endOfTurn: [() -> Void] = []
    /// Deadlines of the commands in flight, in the order their replies will come.
    private var deadlines: [UInt64] = []
    private var deadlineHead = 0
    private var scripts: [RedisScript] = []

    public init(loop: EventLoop, endpoint: RedisEndpoint, configuration: Configuration = Configuration()) {
        self.loop = loop
        self.endpoint = endpoint
        self.configuration = configuration
    }

    public var isConnected: Bool { connected }

    /// Makes `script` known to the server after every connect.
    public func register(_ script: RedisScript) { scripts.append(script) }

    /// Connects, and keeps reconnecting until `close()`.
    public func start() {
        loop.assertInLoop()
        guard stopped else { return }
        stopped = false
        do {
            reconnectTimer = try LoopTimer(loop: loop)
            deadlineTimer = try LoopTimer(loop: loop)
            turnEnd = try LoopIdle(loop: loop)
        } catch {
            lastError = RedisError("cannot create timers: \(error)")
            return
        }
        connect()
    }

    private func connect() {
        guard !stopped else { return }
        let c = RedisConnection(loop: loop, endpoint: endpoint)
        connection = c
        c.connect { [weak self] result in
            guard let self, self.connection === c else { return }
            switch result {
            case .success:
                self.connected = true
                self.reconnectAttempt = 0
                self.lastError = nil
                self.stats.connects += 1
                c.onDisconnect = { [weak self] error in self?.lost(c, error ?? RedisError("connection closed")) }
                for script in self.scripts { self.load(script) }
                self.onConnect?()
            case .failure(let error):
                self.connection = nil
                self.lastError = error
                self.scheduleReconnect()
            }
        }
    }

    private func lost(_ c: RedisConnection, _ error: RedisError) {
        guard connection === c else { return }
        connection = nil
        connected = false
        deadlines.removeAll()
        deadlineHead = 0
        deadlineTimer?.stop()
        lastError = error
        stats.disconnects += 1
        onDisconnect?(error)
        scheduleReconnect()
    }

    private func scheduleReconnect() {
        guard !stopped, let timer = reconnectTimer else { return }
        reconnectAttempt += 1
        var delay = configuration.reconnectInitialMs
        for _ in 1..<min(reconnectAttempt, 20) { delay = min(configuration.reconnectMaxMs, delay * 2) }
        // Full jitter in the upper half: many clients do not come back in lockstep.
        delay = delay / 2 + UInt64.random(in: 0...max(1, delay / 2))
        timer.start(afterMs: delay) { [weak self] in self?.connect() }
    }

    private func load(_ script: RedisScript) {
        send(["SCRIPT", "LOAD", script.source]) { result in
            if case .success(let value) = result, let sha = value.string, case .bulk = value { script.sha = sha }
        }
    }

    // MARK: Commands

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
                .failure(RedisError("not connected to redis at \(endpoint)" + (lastError.map { ": \($0)" } ?? ""))))
        }
        let deadline = loop.nowMs + (timeoutMs ?? configuration.commandTimeoutMs)
        deadlines.append(deadline)
        if deadlines.count - deadlineHead == 1 { armDeadline(deadline) }
        c.send(arguments) { [weak self] result in
            if let self, self.connection === c { self.replyArrived() }
            if case .failure = result { self?.stats.failures += 1 }
            completion(result)
        }
    }

    /// Runs a registered script by its SHA (or its source when the server has not loaded it).
    public func eval(
        _ script: RedisScript, keys: [String], arguments: [[UInt8]], timeoutMs: UInt64? = nil,
        completion: @escaping (Result<RedisValue, RedisError>) -> Void
    ) {
        let tail = [Array(String(keys.count).utf8)] + keys.map { Array($0.utf8) } + arguments
        guard let sha = script.sha else {
            return send(
                [Array("EVAL".utf8), Array(script.source.utf8)] + tail, timeoutMs: timeoutMs, completion: completion)
        }
        send([Array("EVALSHA".utf8), Array(sha.utf8)] + tail, timeoutMs: timeoutMs) { [weak self] result in
            if case .success(.error(let e)) = result, e.hasPrefix("NOSCRIPT"), let self {
                script.sha = nil
                self.load(script)
                return self.send(
                    [Array("EVAL".utf8), Array(script.source.utf8)] + tail, timeoutMs: timeoutMs, completion: completion
                )
            }
            completion(result)
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

    private func runEndOfTurn() {
        let work = endOfTurn
        endOfTurn.removeAll(keepingCapacity: true)
        for body in work { body() }
    }

    private func replyArrived() {
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
    private func armDeadline(_ deadline: UInt64) {
        let now = loop.nowMs
        let wait = deadline > now ? min(deadline - now, 100) : 0
        deadlineTimer?.start(afterMs: wait) { [weak self] in self?.checkDeadlines() }
    }

    private func checkDeadlines() {
        guard deadlineHead < deadlines.count, let c = connection else { return }
        let now = loop.nowMs
        if deadlines[deadlineHead...].contains(where: { $0 <= now }) {
            stats.timeouts += 1
            let error = RedisError("redis at \(endpoint) did not answer in time; reconnecting")
            lastError = error
            c.abort()  // fails every command in flight at once; lost() schedules the reconnect
            return
        }
        armDeadline(deadlines[deadlineHead])
    }

    /// Closes for good: commands in flight fail, no reconnect.
    public func close() {
        stopped = true
        connected = false
        let c = connection
        connection = nil
        c?.abort()
        deadlines.removeAll()
        deadlineHead = 0
        reconnectTimer?.close()
        deadlineTimer?.close()
        turnEnd?.close()
        reconnectTimer = nil
        deadlineTimer = nil
        turnEnd = nil
        runEndOfTurn()  // work waiting for the turn's end runs now (its commands fail: not connected)
    }
}
