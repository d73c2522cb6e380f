// RedisClient: a Redis connection that comes back by itself, with command deadlines and scripts.

public import MeshLoop

/// A Lua script run with `EVALSHA`, falling back to `EVAL` when the server does not know it.
///
/// The client loads registered scripts (`SCRIPT LOAD`) after every connect, so a restarted
/// redis-server (whose script cache is empty) costs at most one `EVAL` per script.
public final class RedisScript {
    public let name: String
    public let source: String
    var sha: String?

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
/// With `.sentinel`, every (re)connect first asks the Sentinels for the primary and checks it
/// with `ROLE`; a `+switch-master` from a Sentinel, a `-READONLY` or `-LOADING` reply (we are
/// talking to a demoted or resyncing server) or a lost connection makes it look again.
/// Writes that must survive a failover ask for `replicated` (see `Configuration.minReplicas`).
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
        /// How long connecting (TCP, then `ROLE` with Sentinel) or asking one Sentinel may take.
        public var connectTimeoutMs: UInt64 = 2_000
        /// Replicas that must confirm a `replicated` write (`WAIT`) before it counts as done:
        /// with 1, a failover to a replica that was in sync loses none of them. 0: no wait.
        public var minReplicas = 0
        /// How long `WAIT` waits for them.
        public var replicaTimeoutMs: UInt64 = 1_000
        /// Sent as `AUTH` first on every connection, to the servers and the Sentinels alike.
        public var credentials: RedisCredentials?

        public init() {}
    }

    public struct Stats: Sendable {
        public var connects: UInt64 = 0
        public var disconnects: UInt64 = 0
        public var commands: UInt64 = 0
        /// Commands that got no reply (not connected, connection lost, deadline passed).
        public var failures: UInt64 = 0
        public var timeouts: UInt64 = 0
        /// Writes fewer than `minReplicas` replicas confirmed in time.
        public var unreplicated: UInt64 = 0
        /// Times the primary moved (Sentinel), as this client saw it.
        public var failovers: UInt64 = 0

        /// The counters under their metric names, for `_sys.Stats` and `/metrics`.
        public func figures() -> [String: Double] {
            [
                "redis_connects_total": Double(connects), "redis_disconnects_total": Double(disconnects),
                "redis_commands_total": Double(commands), "redis_command_failures_total": Double(failures),
                "redis_command_timeouts_total": Double(timeouts),
                "redis_unreplicated_writes_total": Double(unreplicated), "redis_failovers_total": Double(failovers),
            ]
        }
    }

    public let loop: EventLoop
    public let service: RedisService
    public let configuration: Configuration
    /// The server of the current connection (with Sentinel: the primary last found).
    public private(set) var server: RedisEndpoint?
    /// Runs after every successful (re)connect, once registered scripts are being loaded.
    public var onConnect: (() -> Void)?
    /// Runs when an established connection is lost.
    public var onDisconnect: ((RedisError) -> Void)?
    /// Runs when Redis says the configuration is wrong, not the moment: the credentials are
    /// refused (`-WRONGPASS`), or the ACL user may not run a command alertmesh needs (`-NOPERM`).
    /// Retrying cannot help; the services stop with a line naming the option.
    public var onConfigurationError: ((RedisError) -> Void)?
    public internal(set) var stats = Stats()
    /// The last connection problem, for readiness answers and logs.
    public internal(set) var lastError: RedisError?

    var connection: RedisConnection?
    var connected = false
    var stopped = true
    private var reconnectAttempt = 0
    private var reconnectTimer: LoopTimer?
    var deadlineTimer: LoopTimer?
    /// Runs `endOfTurn` work once the current loop turn's callbacks are done.
    var turnEnd: LoopIdle?
    var endOfTurn: [() -> Void] = []
    /// Deadlines of the commands in flight, in the order their replies will come.
    var deadlines: [UInt64] = []
    var deadlineHead = 0
    var scripts: [RedisScript] = []
    var discovery: SentinelDiscovery?
    private var watch: SentinelWatch?
    /// Why the current connection is being dropped on purpose (a failover), for `lastError`.
    var leaving: RedisError?

    public init(loop: EventLoop, service: RedisService, configuration: Configuration = Configuration()) {
        self.loop = loop
        self.service = service
        self.configuration = configuration
        if case .server(let endpoint) = service { server = endpoint }
    }

    public convenience init(loop: EventLoop, endpoint: RedisEndpoint, configuration: Configuration = Configuration()) {
        self.init(loop: loop, service: .server(endpoint), configuration: configuration)
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
            if case .sentinel(let name, let sentinels) = service {
                discovery = SentinelDiscovery(
                    loop: loop, masterName: name, sentinels: sentinels, credentials: configuration.credentials,
                    timeoutMs: configuration.connectTimeoutMs)
                let watch = SentinelWatch(
                    loop: loop, masterName: name, sentinels: sentinels, credentials: configuration.credentials)
                watch.onSwitch = { [weak self] primary in self?.primaryMoved(to: primary) }
                try watch.start()
                self.watch = watch
            }
        } catch {
            lastError = RedisError("cannot create timers: \(error)")
            return
        }
        connect()
    }

    private func connect() {
        guard !stopped else { return }
        guard let discovery else {
            if let server { open(server, primaryOf: nil) }
            return
        }
        discovery.find { [weak self] result in
            guard let self, !self.stopped, self.connection == nil else { return }
            switch result {
            case .success(let primary): self.open(primary, primaryOf: discovery.masterName)
            case .failure(let error):
                self.lastError = error
                if error.isConfiguration { self.onConfigurationError?(error) }
                self.scheduleReconnect()
            }
        }
    }

    /// Connects to `endpoint`; with `primaryOf`, only if `ROLE` says it is a primary — Sentinel's
    /// answer may be stale for a moment during a failover. One deadline covers both steps.
    private func open(_ endpoint: RedisEndpoint, primaryOf masterName: String?) {
        let c = RedisConnection(loop: loop, endpoint: endpoint)
        connection = c
        server = endpoint
        let refuse = { [weak self] (error: RedisError) in
            guard let self, self.connection === c else { return }
            self.connection = nil
            c.abort()
            self.lastError = error
            self.scheduleReconnect()
        }
        reconnectTimer?.start(afterMs: configuration.connectTimeoutMs) { [timeout = configuration.connectTimeoutMs] in
            refuse(RedisError("connect \(endpoint): no answer in \(timeout) ms"))
        }
        c.connect(as: configuration.credentials) { [weak self] result in
            guard let self, self.connection === c else { return }
            switch result {
            case .success: self.checked(c, masterName, refuse)
            case .failure(let error):
                refuse(error)
                if error.isConfiguration { self.onConfigurationError?(error) }
            }
        }
    }

    /// Connected (and authenticated): with Sentinel, check the role first.
    private func checked(_ c: RedisConnection, _ masterName: String?, _ refuse: @escaping (RedisError) -> Void) {
        let endpoint = c.endpoint
        guard let masterName else { return established(c) }
        c.send(["ROLE"]) { [weak self] reply in
            guard let self, self.connection === c else { return }
            if case .success(let value) = reply, case .primary? = RedisRole(value) { return self.established(c) }
            let role = (try? reply.get()).map { "\($0)" } ?? "nothing"
            refuse(
                RedisError("\(endpoint), the primary of \(masterName) by Sentinel, is not one: ROLE answered \(role)"))
        }
    }

    /// An error reply that no retry can fix (`RedisError.configuration(reply:)`).
    func checkConfiguration(_ e: String) {
        if let error = RedisError.configuration(reply: e) { onConfigurationError?(error) }
    }

    private func established(_ c: RedisConnection) {
        reconnectTimer?.stop()
        connected = true
        reconnectAttempt = 0
        lastError = nil
        stats.connects += 1
        c.onDisconnect = { [weak self] error in self?.lost(c, error ?? RedisError("connection closed")) }
        for script in scripts { load(script) }
        onConnect?()
    }

    /// A Sentinel announced a new primary: leave the old one now rather than at its next error.
    private func primaryMoved(to primary: RedisEndpoint) {
        guard !stopped, primary != server || !connected else { return }
        stats.failovers += 1
        let why = RedisError("failover: Sentinel moved the primary to \(primary); reconnecting")
        if let c = connection, connected {
            leaving = why
            c.abort()
        } else if connection == nil {
            // Waiting out a backoff after failed attempts: the primary is back, go now.
            lastError = why
            reconnectAttempt = 0
            reconnectTimer?.stop()
            connect()
        }
    }

    /// A reply that says this server cannot take our commands now, though it is up: `-READONLY`
    /// (a primary demoted to replica) or, with Sentinel, `-LOADING` (a resync). Look again.
    func checkRole(_ c: RedisConnection, _ reply: Result<RedisValue, RedisError>) {
        guard case .success(.error(let e)) = reply,
            e.hasPrefix("READONLY") || (discovery != nil && e.hasPrefix("LOADING"))
        else { return }
        guard connection === c, connected, leaving == nil else { return }
        leaving = RedisError(
            "\(server.map { "\($0)" } ?? "redis") answered -\(e.prefix(80)); finding the primary again")
        // Not from inside hiredis's reply callback: at the end of this loop turn.
        atEndOfTurn { [weak self] in
            guard let self, self.connection === c else { return }
            c.abort()
        }
    }

    private func lost(_ c: RedisConnection, _ error: RedisError) {
        guard connection === c else { return }
        connection = nil
        connected = false
        deadlines.removeAll()
        deadlineHead = 0
        deadlineTimer?.stop()
        lastError = leaving ?? error
        leaving = nil
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

    func load(_ script: RedisScript) {
        send(["SCRIPT", "LOAD", script.source]) { result in
            if case .success(let value) = result, let sha = value.string, case .bulk = value { script.sha = sha }
        }
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
        discovery?.close()
        watch?.close()
        discovery = nil
        watch = nil
        turnEnd?.close()
        reconnectTimer = nil
        deadlineTimer = nil
        turnEnd = nil
        runEndOfTurn()  // work waiting for the turn's end runs now (its commands fail: not connected)
    }
}
