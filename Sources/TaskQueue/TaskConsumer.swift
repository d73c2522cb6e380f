// TaskConsumer: the worker's side of the pipeline — its state, its timers, starting and stopping.
// Reading is in TaskConsumer+Reading, finishing in TaskConsumer+Finishing, leases in +Leases.

public import MeshLoop
public import MeshRedis
public import TaskPipeline

/// Consumes the work stream with `XREADGROUP` in the consumer group, at most `concurrency` tasks
/// at a time, and drives each through the `TaskScripts`.
///
/// - Reads never run ahead of capacity: `COUNT` is the number of free slots, and no read is
///   outstanding while none is free. The blocking read has its own connection.
/// - Leases: every in-flight entry's idle time is reset every `leaseMs / 3` while this consumer
///   still holds it; every `reclaimIntervalMs`, entries idle past `leaseMs` (their worker died) are
///   taken over with `XAUTOCLAIM` and run again — which counts as an attempt.
/// - Retries wait in a sorted set, not in the pending list; due ones go back on the stream every
///   `promoteIntervalMs` (any worker may move them; the script is atomic).
///
/// ```swift
/// let consumer = TaskConsumer(loop: loop, commands: redis, reader: blockingRedis, configuration: .init(name: "w1")) {
///     delivery, done in done(.success(result: Array("{}".utf8)))
/// }
/// try consumer.start()
/// ```
public final class TaskConsumer {
    public struct Configuration: Sendable {
        /// This consumer's name in the group (unique per process).
        public var name: String
        public var concurrency = 512
        /// No new read while the messages of the tasks in flight add up to this many bytes; one
        /// read starts at most `readChunk` tasks beyond it.
        public var maxMessageBytesInFlight = 64 << 20
        public var blockMs: UInt64 = 2_000
        public var leaseMs: UInt64 = 60_000
        public var reclaimIntervalMs: UInt64 = 5_000
        public var promoteIntervalMs: UInt64 = 250
        /// How long a finished task stays readable.
        public var resultTTLSeconds = 86_400
        public var deadLetterCap = 10_000
        /// Dead letters older than this are removed (by the janitor), in seconds: 7 days.
        public var deadLetterTTLSeconds = 7 * 86_400
        public var policy = RetryPolicy()
        /// Consumers of the group idle this long with nothing pending (workers that are gone) are
        /// deleted, so `XINFO CONSUMERS` and the consumer count show the workers that exist.
        public var forgetConsumersIdleMs: UInt64 = 3_600_000
        /// How often to look for such consumers.
        public var janitorIntervalMs: UInt64 = 60_000

        public init(name: String) { self.name = name }
    }

    public struct Stats: Sendable {
        public var started: UInt64 = 0
        /// Submit-to-SUCCESS times of the tasks this worker finished.
        public var e2e = E2EHistogram()
        public var succeeded: UInt64 = 0
        public var retried: UInt64 = 0
        /// Attempts no service took (not counted): the task went back to wait.
        public var postponed: UInt64 = 0
        public var failed: UInt64 = 0
        public var poisoned: UInt64 = 0
        public var skipped: UInt64 = 0
        public var reclaimed: UInt64 = 0
        public var leasesLost: UInt64 = 0
        public var redisProblems: UInt64 = 0

        /// The counters under their metric names, for `_sys.Stats` and `/metrics`.
        public func figures() -> [String: Double] {
            [
                "tasks_started_total": Double(started), "tasks_succeeded_total": Double(succeeded),
                "tasks_retried_total": Double(retried), "tasks_postponed_total": Double(postponed),
                "tasks_failed_total": Double(failed),
                "tasks_poisoned_total": Double(poisoned), "tasks_skipped_total": Double(skipped),
                "tasks_reclaimed_total": Double(reclaimed), "leases_lost_total": Double(leasesLost),
                "redis_problems_total": Double(redisProblems),
            ].merging(e2e.figures()) { a, _ in a }
        }
    }

    public typealias Processor = (Delivery, @escaping (AttemptOutcome) -> Void) -> Void

    /// Where the consumer is in its life. Work is read only while `running`; while `draining`,
    /// tasks in flight may still finish until the deadline, when the rest are handed back.
    enum Lifecycle {
        case idle
        case running
        case draining(deadlineMs: UInt64, completion: () -> Void)
        case stopped
    }

    public let loop: EventLoop
    public let keys: TaskKeys
    public let configuration: Configuration
    public var onEvent: ((ConsumerEvent) -> Void)?
    public internal(set) var stats = Stats()

    let commands: RedisClient
    let reader: RedisClient
    /// The dead-letter stream, on the commands connection (the worker serves it over RPC too).
    public let deadLetters: DeadLetters
    let processor: Processor
    let clock: any ConsumerClock
    let startScript = TaskScripts.start()
    let readAndStartScript = TaskScripts.readAndStart()
    let succeedScript = TaskScripts.succeed()
    let retryScript = TaskScripts.retry()
    let failScript = TaskScripts.fail()
    let promoteScript = TaskScripts.promote()
    let renewScript = TaskScripts.renew()
    let postponeScript = TaskScripts.postpone()

    var lifecycle = Lifecycle.idle
    /// While set, no new work is read (tasks in flight go on): the owner knows they could not be
    /// processed — a dependency is down. Since when (clock ms), and why.
    public private(set) var pause: (reason: String, sinceMs: UInt64)?
    /// Time spent paused before the current pause, in ms.
    private var pausedMsBefore: UInt64 = 0
    /// Entries this consumer is working on → the size of their task's message, once started (0
    /// until then); and the sum of those sizes, which bounds reads.
    var inFlight: [String: Int] = [:]
    var messageBytesInFlight = 0
    var startsOutstanding = 0
    /// The most entries one read asks for: a batch is read in chunks of this many.
    public static let readChunk = 32
    var readOutstanding = false
    /// Whether the last read found new entries: then the next one reads and starts in one script
    /// call (no blocking), until one finds nothing and the blocking `XREADGROUP` waits again.
    var readsFindWork = false
    var reclaimOutstanding = false
    var reclaimCursor = "0-0"
    /// Where the re-read of our own pending entries has got to; nil when reading new entries (`>`).
    var ownPendingCursor: String? = "0"
    /// Successes of this loop turn, stored together by one `succeed` call at its end.
    var successes: [(delivery: Delivery, json: [UInt8], tries: Int, applied: Bool)] = []
    /// The wait before re-reading entries dropped after a Redis error; doubles while errors go on.
    var rescanDelayMs: UInt64 = 0

    // One timer per purpose.
    /// Reads again after `XREADGROUP` failed.
    var readRetryTimer: (any ConsumerTimer)?
    /// Takes over entries whose lease ran out.
    var reclaimTimer: (any ConsumerTimer)?
    /// Renews the leases of entries in flight.
    var renewTimer: (any ConsumerTimer)?
    /// Moves due retries back onto the stream.
    var promoteTimer: (any ConsumerTimer)?
    /// Forgets consumers that are gone.
    var janitorTimer: (any ConsumerTimer)?
    /// Re-reads our own pending entries after Redis refused to start them.
    var rescanTimer: (any ConsumerTimer)?
    /// Ends the shutdown grace period.
    var graceTimer: (any ConsumerTimer)?

    /// - Parameters:
    ///   - commands: the connection for scripts and claims.
    ///   - reader: a connection of its own for the blocking `XREADGROUP`.
    ///   - clock: the timers' source; the loop's unless a test drives time itself.
    public init(
        loop: EventLoop, commands: RedisClient, reader: RedisClient, keys: TaskKeys = TaskKeys(),
        configuration: Configuration, clock: (any ConsumerClock)? = nil, processor: @escaping Processor
    ) {
        self.loop = loop
        self.commands = commands
        self.reader = reader
        self.keys = keys
        self.configuration = configuration
        self.clock = clock ?? LoopClock(loop: loop)
        self.processor = processor
        deadLetters = DeadLetters(redis: commands, keys: keys)
        for script in [
            startScript, readAndStartScript, succeedScript, retryScript, failScript, promoteScript, renewScript,
            postponeScript,
        ] {
            commands.register(script)
        }
    }

    public var inFlightCount: Int { inFlight.count }
    public var isRunning: Bool {
        if case .running = lifecycle { true } else { false }
    }

    /// Starts consuming (and the Redis clients, if they are not started yet).
    public func start() throws(UVError) {
        guard case .idle = lifecycle else { return }
        readRetryTimer = try clock.makeTimer()
        reclaimTimer = try clock.makeTimer()
        renewTimer = try clock.makeTimer()
        promoteTimer = try clock.makeTimer()
        janitorTimer = try clock.makeTimer()
        rescanTimer = try clock.makeTimer()
        graceTimer = try clock.makeTimer()
        lifecycle = .running
        commands.onConnect = { [weak self] in self?.commandsConnected() }
        reader.onConnect = { [weak self] in self?.readerConnected() }
        commands.start()
        reader.start()
        if commands.isConnected { commandsConnected() }
        let c = configuration
        reclaimTimer?.start(afterMs: c.reclaimIntervalMs, repeatMs: c.reclaimIntervalMs) { [weak self] in
            self?.reclaim()
        }
        let renewEvery = max(100, c.leaseMs / 3)
        renewTimer?.start(afterMs: renewEvery, repeatMs: renewEvery) { [weak self] in self?.renew() }
        promoteTimer?.start(afterMs: c.promoteIntervalMs, repeatMs: c.promoteIntervalMs) { [weak self] in
            self?.promote()
        }
        janitorTimer?.start(afterMs: c.janitorIntervalMs, repeatMs: c.janitorIntervalMs) { [weak self] in
            self?.forgetGoneConsumers()
            self?.trimDeadLetters()
        }
        pump()
    }

    private func readerConnected() {
        rescanOwnPending()
        pump()
    }

    func commandsConnected() {
        if stats.started > 0 || stats.redisProblems > 0 { rescanOwnPending() }
        QueueClient.ensureGroup(redis: commands, keys: keys) { [weak self] result in
            if case .failure(let e) = result { self?.problem("cannot create the consumer group: \(e)") }
            self?.pump()
            self?.reclaim()
        }
    }

    /// An entry is no longer ours to work on: read more, or finish draining.
    func release(_ entry: String) {
        if let bytes = inFlight.removeValue(forKey: entry) { messageBytesInFlight -= bytes }
        switch lifecycle {
        case .running:
            pump()
        case .draining(_, let completion) where inFlight.isEmpty:
            lifecycle = .stopped
            closeAll()
            completion()
        case .draining, .idle, .stopped:
            break
        }
    }

    func problem(_ text: String) {
        stats.redisProblems += 1
        onEvent?(.redisProblem(text))
    }

    // MARK: Pausing

    /// Stops reading new work until `resume()`: every task read now would only be put back.
    /// Retries still move to the stream when due (any consumer may take them), leases are still
    /// renewed and tasks in flight finish as they do.
    public func pause(reason: String) {
        guard pause == nil else { return }
        pause = (reason, clock.nowMs)
    }

    /// Reads again after `pause(reason:)`; returns how long this pause lasted, in ms.
    @discardableResult public func resume() -> UInt64 {
        guard let p = pause else { return 0 }
        let ms = clock.nowMs - p.sinceMs
        pausedMsBefore += ms
        pause = nil
        pump()
        return ms
    }

    /// Milliseconds spent paused in all, the current pause included.
    public var pausedMs: UInt64 { pausedMsBefore + (pause.map { clock.nowMs - $0.sinceMs } ?? 0) }

    /// `stats.figures()` and the consumer's state: tasks in flight, whether it is paused and how
    /// long it has been in all.
    public func figures() -> [String: Double] {
        var f = stats.figures()
        f["tasks_in_flight"] = Double(inFlight.count)
        f["concurrency"] = Double(configuration.concurrency)
        f["worker_paused"] = pause == nil ? 0 : 1
        f["worker_paused_seconds_total"] = Double(pausedMs) / 1_000
        return f
    }

    // MARK: Stopping

    /// Stops reading; tasks in flight get `graceMs` to finish. Those still running then are handed
    /// back (made claimable at once) and `completion` runs.
    public func stop(graceMs: UInt64, completion: @escaping () -> Void) {
        guard case .running = lifecycle else { return completion() }
        reader.close()
        for timer in [reclaimTimer, promoteTimer, janitorTimer, rescanTimer, readRetryTimer] { timer?.stop() }
        if inFlight.isEmpty {
            lifecycle = .stopped
            closeAll()
            return completion()
        }
        lifecycle = .draining(deadlineMs: clock.nowMs + graceMs, completion: completion)
        graceTimer?.start(afterMs: graceMs) { [weak self] in self?.handBack() }
    }

    /// Gives the entries still running back to the group: `XCLAIM … IDLE <lease>` makes them
    /// idle past the lease, so the next `XAUTOCLAIM` of any worker takes them.
    private func handBack() {
        guard case .draining(_, let completion) = lifecycle else { return }
        lifecycle = .stopped
        // Results already in hand are stored (their call goes out before the hand-back); the rest
        // are handed back.
        let storing = Set(successes.map(\.delivery.entry))
        storeSuccesses()
        let entries = inFlight.keys.filter { !storing.contains($0) }
        inFlight.removeAll()
        messageBytesInFlight = 0
        let done = { [weak self] in
            self?.closeAll()
            completion()
        }
        guard commands.isConnected else { return done() }
        // Closing aborts the connection, so wait for the last answer: Redis answers in order, so
        // the results stored above are answered by then too.
        guard !entries.isEmpty else { return commands.send(["PING"]) { _ in done() } }
        commands.send(
            ["XCLAIM", keys.stream, keys.group, configuration.name, "0"] + entries + [
                "IDLE", String(configuration.leaseMs), "JUSTID",
            ]
        ) { _ in done() }
    }

    private func closeAll() {
        for timer in [readRetryTimer, reclaimTimer, renewTimer, promoteTimer, janitorTimer, rescanTimer, graceTimer] {
            timer?.close()
        }
        readRetryTimer = nil
        reclaimTimer = nil
        renewTimer = nil
        promoteTimer = nil
        janitorTimer = nil
        rescanTimer = nil
        graceTimer = nil
        reader.close()
        commands.close()
    }
}
