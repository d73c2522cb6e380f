// TaskConsumer: the worker's side of the pipeline — reads, leases, reclaims, retries, finishes.

public import MeshLoop
public import MeshRedis
public import TaskPipeline

/// One attempt's end, as the processor reports it.
public enum AttemptResult: Sendable, Hashable {
    /// Done: the result JSON to store.
    case success(result: [UInt8])
    /// May pass on retry (UNAVAILABLE, DEADLINE_EXCEEDED, connection loss, report-disk errors).
    case transient(String)
    /// Will not pass (INVALID_ARGUMENT …): fail at once.
    case permanent(String)

    var outcome: AttemptOutcome {
        switch self {
        case .success: .success
        case .transient(let e): .transient(e)
        case .permanent(let e): .permanent(e)
        }
    }
}

/// A task handed to the processor.
public struct Delivery: Sendable, Hashable {
    /// The stream entry id.
    public var entry: String
    public var taskID: String
    public var message: String
    /// 1-based, counting attempts whose worker died.
    public var attempt: Int
    /// When the attempt started (`EventLoop.hrtimeNs()`).
    public var startedNs: UInt64 = 0
}

/// What happened to a task, for logs and counters.
public enum ConsumerEvent: Sendable {
    case started(Delivery)
    case succeeded(Delivery)
    case retrying(Delivery, delayMs: UInt64, error: String)
    case failed(Delivery, error: String)
    /// Failed and dead-lettered without running (delivered too often, or out of attempts after crashes).
    case poisoned(taskID: String, entry: String, error: String)
    /// Another worker finished it first, or it was gone: nothing changed.
    case skipped(taskID: String, entry: String, reason: String)
    /// Entries taken over from workers whose lease ran out.
    case reclaimed(count: Int)
    /// A Redis command failed; the consumer goes on (the entry stays pending and is reclaimed).
    case redisProblem(String)
}

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
/// consumer.start()
/// ```
public final class TaskConsumer {
    public struct Configuration: Sendable {
        /// This consumer's name in the group (unique per process).
        public var name: String
        public var concurrency = 128
        public var blockMs: UInt64 = 2_000
        public var leaseMs: UInt64 = 60_000
        public var reclaimIntervalMs: UInt64 = 5_000
        public var promoteIntervalMs: UInt64 = 250
        /// How long a finished task stays readable.
        public var resultTTLSeconds = 86_400
        public var deadLetterCap = 10_000
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
        public var succeeded: UInt64 = 0
        public var retried: UInt64 = 0
        public var failed: UInt64 = 0
        public var poisoned: UInt64 = 0
        public var skipped: UInt64 = 0
        public var reclaimed: UInt64 = 0
        public var redisProblems: UInt64 = 0
    }

    public typealias Processor = (Delivery, @escaping (AttemptResult) -> Void) -> Void

    public let loop: EventLoop
    public let keys: TaskKeys
    public let configuration: Configuration
    public var onEvent: ((ConsumerEvent) -> Void)?
    public private(set) var stats = Stats()

    private let commands: RedisClient
    private let reader: RedisClient
    private let processor: Processor
    private let startScript = TaskScripts.start()
    private let succeedScript = TaskScripts.succeed()
    private let retryScript = TaskScripts.retry()
    private let failScript = TaskScripts.fail()
    private let promoteScript = TaskScripts.promote()
    private let renewScript = TaskScripts.renew()

    /// Entries this consumer is working on → task id.
    private var inFlight: [String: String] = [:]
    private var running = false
    private var readOutstanding = false
    private var reclaimOutstanding = false
    private var reclaimCursor = "0-0"
    /// Where the re-read of our own pending entries has got to; nil when reading new entries (`>`).
    private var ownPendingCursor: String? = "0"
    private var pumpTimer: LoopTimer?
    private var reclaimTimer: LoopTimer?
    private var renewTimer: LoopTimer?
    private var promoteTimer: LoopTimer?
    private var janitorTimer: LoopTimer?
    private var rescanTimer: LoopTimer?
    /// Successes of this loop turn, stored together by one `succeed` call at its end.
    private var successes: [(delivery: Delivery, json: [UInt8], tries: Int)] = []
    /// The wait before re-reading entries dropped after a Redis error; doubles while errors go on.
    private var rescanDelayMs: UInt64 = 0
    private var stopCompletion: (() -> Void)?

    /// - Parameters:
    ///   - commands: the connection for scripts and claims.
    ///   - reader: a connection of its own for the blocking `XREADGROUP`.
    public init(
        loop: EventLoop, commands: RedisClient, reader: RedisClient, keys: TaskKeys = TaskKeys(),
        configuration: Configuration, processor: @escaping Processor
    ) {
        self.loop = loop
        self.commands = commands
        self.reader = reader
        self.keys = keys
        self.configuration = configuration
        self.processor = processor
        for script in [startScript, succeedScript, retryScript, failScript, promoteScript, renewScript] {
            commands.register(script)
        }
    }

    public var inFlightCount: Int { inFlight.count }
    public var isRunning: Bool { running }

    /// Starts consuming (and the Redis clients, if they are not started yet).
    public func start() throws(UVError) {
        guard !running else { return }
        running = true
        pumpTimer = try LoopTimer(loop: loop)
        reclaimTimer = try LoopTimer(loop: loop)
        renewTimer = try LoopTimer(loop: loop)
        promoteTimer = try LoopTimer(loop: loop)
        janitorTimer = try LoopTimer(loop: loop)
        rescanTimer = try LoopTimer(loop: loop)
        commands.onConnect = { [weak self] in self?.commandsConnected() }
        reader.onConnect = { [weak self] in self?.readerConnected() }
        commands.start()
        reader.start()
        if commands.isConnected { commandsConnected() }
        reclaimTimer?.start(afterMs: configuration.reclaimIntervalMs, repeatMs: configuration.reclaimIntervalMs) {
            [weak self] in self?.reclaim()
        }
        let renewEvery = max(100, configuration.leaseMs / 3)
        renewTimer?.start(afterMs: renewEvery, repeatMs: renewEvery) { [weak self] in self?.renew() }
        promoteTimer?.start(afterMs: configuration.promoteIntervalMs, repeatMs: configuration.promoteIntervalMs) {
            [weak self] in self?.promote()
        }
        janitorTimer?.start(afterMs: configuration.janitorIntervalMs, repeatMs: configuration.janitorIntervalMs) {
            [weak self] in self?.forgetGoneConsumers()
        }
        pump()
    }

    /// After a reconnect, replies that were on the wire are gone: entries delivered to us (or
    /// started by us) may sit in our pending list with nobody working on them. Re-read our own
    /// pending entries (`XREADGROUP … 0`) before new ones, as the Redis streams guide recommends,
    /// instead of waiting a whole lease for them to be reclaimed.
    private func rescanOwnPending() {
        ownPendingCursor = "0"
    }

    /// An entry left pending under our name without being finished (Redis refused the start or
    /// the result: `-LOADING` after a restart, `-OOM`, `-BUSY`, a reply lost on the wire) is
    /// re-read from our own pending list after a pause — not a whole lease later, when
    /// `XAUTOCLAIM` would find it. The pause doubles while Redis keeps refusing (each re-read
    /// counts as a delivery towards the poison cap) up to half a lease.
    private func dropped(_ entry: String) {
        release(entry)
        guard running, rescanTimer?.isActive == false else { return }
        rescanDelayMs = min(max(500, rescanDelayMs * 2), max(500, configuration.leaseMs / 2))
        rescanTimer?.start(afterMs: rescanDelayMs) { [weak self] in
            self?.rescanOwnPending()
            self?.pump()
        }
    }

    private func readerConnected() {
        rescanOwnPending()
        pump()
    }

    private func commandsConnected() {
        if stats.started > 0 || stats.redisProblems > 0 { rescanOwnPending() }
        TaskQueue.ensureGroup(redis: commands, keys: keys) { [weak self] result in
            if case .failure(let e) = result { self?.problem("cannot create the consumer group: \(e)") }
            self?.pump()
            self?.reclaim()
        }
    }

    // MARK: Reading

    private var freeSlots: Int { configuration.concurrency - inFlight.count }

    /// Reads as many new entries as there are free slots, when none is being read.
    private func pump() {
        guard running, !readOutstanding, reader.isConnected, freeSlots > 0 else { return }
        readOutstanding = true
        let rescanning = ownPendingCursor
        let command = [
            "XREADGROUP", "GROUP", keys.group, configuration.name, "COUNT", String(freeSlots), "BLOCK",
            String(configuration.blockMs), "STREAMS", keys.stream, rescanning ?? ">",
        ]
        reader.send(command, timeoutMs: configuration.blockMs + commands.configuration.commandTimeoutMs) {
            [weak self] result in
            guard let self else { return }
            self.readOutstanding = false
            switch result {
            case .success(.array(let streams?)):
                var last: String?
                for stream in streams {
                    guard case .array(let pair?) = stream, pair.count == 2, case .array(let entries?) = pair[1] else {
                        continue
                    }
                    let batch = Self.entries(entries)
                    last = batch.last?.0 ?? last
                    self.deliver(batch.map { (entry: $0.0, taskID: $0.1) })
                }
                if rescanning != nil, self.ownPendingCursor == rescanning {
                    self.ownPendingCursor = last  // nil (done) when nothing more is pending
                }
                self.pump()
            case .success(.array(nil)), .success(.bulk(nil)):
                if rescanning != nil, self.ownPendingCursor == rescanning { self.ownPendingCursor = nil }
                self.pump()  // BLOCK ran out: read again
            case .success(.error(let e)):
                self.problem("XREADGROUP: \(e)")
                if e.hasPrefix("NOGROUP") { self.commandsConnected() }
                self.pumpLater()
            case .success(let other):
                self.problem("XREADGROUP: unexpected reply \(other)")
                self.pumpLater()
            case .failure:
                break  // the reader reconnects; its onConnect pumps again
            }
        }
    }

    private func pumpLater() {
        pumpTimer?.start(afterMs: 500) { [weak self] in self?.pump() }
    }

    /// (entry id, task id) pairs of a stream reply's entries. An entry with no task id — or no
    /// fields at all: deleted from the stream while still pending — pairs with "" (and is dropped).
    static func entries(_ items: [RedisValue]) -> [(String, String)] {
        items.compactMap { item in
            guard case .array(let e?) = item, e.count == 2, let id = e[0].string else { return nil }
            guard case .array(let f?) = e[1] else { return (id, "") }
            var i = 0
            while i + 1 < f.count {
                if f[i].string == "task_id", let task = f[i + 1].string { return (id, task) }
                i += 2
            }
            return (id, "")
        }
    }

    // MARK: One task

    /// Starts a batch of delivered entries with one script call (one round trip and one script
    /// invocation per `XREADGROUP` batch, not per task).
    private func deliver(_ batch: [(entry: String, taskID: String)]) {
        var starting: [(entry: String, taskID: String)] = []
        for (entry, taskID) in batch where inFlight[entry] == nil {
            guard !taskID.isEmpty else {
                // Not a task (or its entry is gone): nothing to run; take it out of the pending list.
                stats.skipped += 1
                onEvent?(.skipped(taskID: "", entry: entry, reason: "entry without a task id"))
                commands.send(["XACK", keys.stream, keys.group, entry]) { _ in }
                continue
            }
            inFlight[entry] = taskID
            starting.append((entry, taskID))
        }
        guard !starting.isEmpty else { return }
        let c = configuration
        var arguments = [
            keys.group, c.name, String(c.policy.maxDeliveries), String(c.policy.maxAttempts),
            String(c.resultTTLSeconds),
            String(c.deadLetterCap),
        ]
        for (entry, taskID) in starting { arguments += [entry, taskID] }
        commands.eval(
            startScript, keys: [keys.stream, keys.dead, keys.counters] + starting.map { keys.task($0.taskID) },
            arguments: arguments.map { Array($0.utf8) }
        ) { [weak self] result in
            guard let self else { return }
            guard case .success(.array(let replies?)) = result, replies.count == starting.count else {
                // Redis is away (or answered nonsense): the entries stay pending under our name
                // and are re-read after the reconnect, or reclaimed after their lease.
                switch result {
                case .failure(let e): self.problem("start: \(e)")
                case .success(let other): self.problem("start script answered \(other)")
                }
                for (entry, _) in starting { self.dropped(entry) }
                return
            }
            for ((entry, taskID), reply) in zip(starting, replies) { self.started(entry, taskID, reply) }
        }
    }

    private func started(_ entry: String, _ taskID: String, _ reply: RedisValue) {
        switch reply {
        case .array(let items?) where items.first?.string == "run" && items.count == 3:
            rescanDelayMs = 0
            let delivery = Delivery(
                entry: entry, taskID: taskID, message: items[1].string ?? "",
                attempt: Int(items[2].string ?? "") ?? 1, startedNs: EventLoop.hrtimeNs())
            stats.started += 1
            onEvent?(.started(delivery))
            processor(delivery) { [weak self] outcome in self?.finish(delivery, outcome) }
        case .array(let items?) where items.first?.string == "poison":
            stats.poisoned += 1
            onEvent?(.poisoned(taskID: taskID, entry: entry, error: items.last?.string ?? ""))
            release(entry)
        case .array(let items?) where !items.isEmpty:
            stats.skipped += 1
            let reason = items.compactMap(\.string).joined(separator: " ")
            onEvent?(.skipped(taskID: taskID, entry: entry, reason: reason))
            release(entry)
        default:
            problem("start script answered \(reply) for \(taskID)")
            dropped(entry)
        }
    }

    private func finish(_ delivery: Delivery, _ result: AttemptResult, tries: Int = 0) {
        guard inFlight[delivery.entry] != nil else { return }
        let c = configuration
        let script: RedisScript
        let scriptKeys: [String]
        var arguments: [[UInt8]] = [Array(keys.group.utf8), Array(delivery.entry.utf8)]
        // What to count once the script said "ok".
        let done: ConsumerEvent
        switch c.policy.decide(after: result.outcome, attempt: delivery.attempt) {
        case .succeed:
            guard case .success(let json) = result else { return }
            successes.append((delivery, json, tries))
            if successes.count == 1 { commands.atEndOfTurn { [weak self] in self?.storeSuccesses() } }
            return
        case .retry(let delayMs):
            script = retryScript
            scriptKeys = [keys.task(delivery.taskID), keys.stream, keys.delayed, keys.counters]
            arguments += [Self.errorText(result), String(delayMs), delivery.taskID].map { Array($0.utf8) }
            done = .retrying(delivery, delayMs: delayMs, error: Self.errorText(result))
        case .fail(let error, _):
            script = failScript
            scriptKeys = [keys.task(delivery.taskID), keys.stream, keys.dead, keys.counters]
            arguments += [error, String(c.resultTTLSeconds), delivery.taskID, String(c.deadLetterCap)].map {
                Array($0.utf8)
            }
            done = .failed(delivery, error: error)
        }
        commands.eval(script, keys: scriptKeys, arguments: arguments) { [weak self] reply in
            guard let self else { return }
            switch reply {
            case .success(let value) where value.string == "ok":
                if case .retrying = done { self.stats.retried += 1 } else { self.stats.failed += 1 }
                self.onEvent?(done)
                self.release(delivery.entry)
            case .success(let value) where value.string != nil:
                self.stats.skipped += 1
                self.onEvent?(
                    .skipped(taskID: delivery.taskID, entry: delivery.entry, reason: value.string ?? ""))
                self.release(delivery.entry)
            case .success(let other) where !other.isError:
                self.problem("\(script.name) script answered \(other)")
                self.dropped(delivery.entry)
            default:
                self.problem("\(script.name) \(delivery.taskID): \(Self.describe(reply))")
                self.finishLater(delivery, result, tries: tries)
            }
        }
    }

    /// Stores every success of the last loop turn with one `succeed` call.
    private func storeSuccesses() {
        let batch = successes
        successes = []
        guard !batch.isEmpty else { return }
        var scriptKeys = [keys.stream, keys.counters]
        var arguments: [[UInt8]] = [Array(keys.group.utf8), Array(String(configuration.resultTTLSeconds).utf8)]
        scriptKeys.reserveCapacity(2 + batch.count)
        arguments.reserveCapacity(2 + 2 * batch.count)
        for (delivery, json, _) in batch {
            scriptKeys.append(keys.task(delivery.taskID))
            arguments.append(Array(delivery.entry.utf8))
            arguments.append(json)
        }
        commands.eval(succeedScript, keys: scriptKeys, arguments: arguments) { [weak self] reply in
            guard let self else { return }
            switch reply {
            case .success(.array(let replies?)) where replies.count == batch.count:
                for ((delivery, _, _), value) in zip(batch, replies) {
                    switch value.string {
                    case "ok":
                        self.stats.succeeded += 1
                        self.onEvent?(.succeeded(delivery))
                        self.release(delivery.entry)
                    case let reason?:
                        self.stats.skipped += 1
                        self.onEvent?(.skipped(taskID: delivery.taskID, entry: delivery.entry, reason: reason))
                        self.release(delivery.entry)
                    case nil:
                        self.problem("succeed script answered \(value) for \(delivery.taskID)")
                        self.dropped(delivery.entry)
                    }
                }
            case .success(let other) where !other.isError:
                self.problem("succeed script answered \(other)")
                for (delivery, _, _) in batch { self.dropped(delivery.entry) }
            default:
                self.problem("succeed (\(batch.count) tasks): \(Self.describe(reply))")
                for (delivery, json, tries) in batch {
                    self.finishLater(delivery, .success(result: json), tries: tries)
                }
            }
        }
    }

    /// Redis is away, or refuses for now (an error reply: `-LOADING` while a restarted server reads
    /// its AOF, `-OOM`, `-BUSY`): keep the outcome and try again in a second while the lease lasts;
    /// past that the entry is run again (its report is written once whatever happens).
    private func finishLater(_ delivery: Delivery, _ result: AttemptResult, tries: Int) {
        let maxTries = Int(max(1, configuration.leaseMs / 2_000))
        guard running || stopCompletion != nil, tries < maxTries else { return dropped(delivery.entry) }
        guard let timer = try? LoopTimer(loop: loop) else { return dropped(delivery.entry) }
        timer.start(afterMs: 1_000) { [weak self] in
            timer.close()
            self?.finish(delivery, result, tries: tries + 1)
        }
    }

    static func describe(_ reply: Result<RedisValue, RedisError>) -> String {
        switch reply {
        case .success(let value): value.description
        case .failure(let error): "\(error)"
        }
    }

    static func errorText(_ result: AttemptResult) -> String {
        switch result {
        case .success: ""
        case .transient(let e), .permanent(let e): e
        }
    }

    private func release(_ entry: String) {
        inFlight[entry] = nil
        if running {
            pump()
        } else if inFlight.isEmpty, let completion = stopCompletion {
            stopCompletion = nil
            closeAll()
            completion()
        }
    }

    private func problem(_ text: String) {
        stats.redisProblems += 1
        onEvent?(.redisProblem(text))
    }

    // MARK: Leases, reclaiming, delayed retries

    /// Takes over entries whose worker stopped renewing their lease.
    private func reclaim() {
        guard running, !reclaimOutstanding, commands.isConnected, freeSlots > 0 else { return }
        reclaimOutstanding = true
        let command = [
            "XAUTOCLAIM", keys.stream, keys.group, configuration.name, String(configuration.leaseMs), reclaimCursor,
            "COUNT", String(freeSlots),
        ]
        commands.send(command) { [weak self] result in
            guard let self else { return }
            self.reclaimOutstanding = false
            guard case .success(.array(let parts?)) = result, parts.count >= 2, let cursor = parts[0].string,
                case .array(let claimed?) = parts[1]
            else {
                if case .success(.error(let e)) = result {
                    self.problem("XAUTOCLAIM: \(e)")
                    if e.hasPrefix("NOGROUP") { self.commandsConnected() }
                }
                return
            }
            self.reclaimCursor = cursor
            let entries = Self.entries(claimed)
            if !entries.isEmpty {
                self.stats.reclaimed += UInt64(entries.count)
                self.onEvent?(.reclaimed(count: entries.count))
            }
            self.deliver(entries.map { (entry: $0.0, taskID: $0.1) })
        }
    }

    /// Resets the idle time of every entry still held, so no other worker reclaims a slow task.
    private func renew() {
        guard !inFlight.isEmpty, commands.isConnected else { return }
        let entries = Array(inFlight.keys)
        commands.eval(
            renewScript, keys: [keys.stream],
            arguments: ([keys.group, configuration.name] + entries).map { Array($0.utf8) }
        ) { [weak self] result in
            if case .success(.error(let e)) = result { self?.problem("renew: \(e)") }
        }
    }

    /// Moves due retries back onto the stream.
    private func promote() {
        guard running, commands.isConnected else { return }
        let batch = 200
        commands.eval(
            promoteScript, keys: [keys.delayed, keys.stream],
            arguments: [Array(String(batch).utf8), Array(keys.taskPrefix.utf8)]
        ) { [weak self] result in
            switch result {
            case .success(.integer(let n)) where n >= batch: self?.promote()
            case .success(.error(let e)): self?.problem("promote: \(e)")
            default: break
            }
        }
    }

    /// Deletes consumers with nothing pending that have not read for `forgetConsumersIdleMs`.
    /// (Deleting a consumer that still has pending entries would orphan them; those are reclaimed
    /// first, after which the consumer is forgotten on a later round.)
    private func forgetGoneConsumers() {
        guard running, commands.isConnected else { return }
        commands.send(["XINFO", "CONSUMERS", keys.stream, keys.group]) { [weak self] result in
            guard let self, case .success(.array(let consumers?)) = result else { return }
            for consumer in consumers.compactMap(TaskQueue.fields) {
                guard let name = consumer["name"]?.string, name != self.configuration.name,
                    case .integer(let pending)? = consumer["pending"], pending == 0,
                    case .integer(let idle)? = consumer["idle"], idle >= Int64(self.configuration.forgetConsumersIdleMs)
                else { continue }
                self.commands.send(["XGROUP", "DELCONSUMER", self.keys.stream, self.keys.group, name]) { _ in }
            }
        }
    }

    // MARK: Stopping

    /// Stops reading; tasks in flight get `graceMs` to finish. Those still running then are handed
    /// back (made claimable at once) and `completion` runs.
    public func stop(graceMs: UInt64, completion: @escaping () -> Void) {
        guard running else { return completion() }
        running = false
        reader.close()
        reclaimTimer?.stop()
        promoteTimer?.stop()
        janitorTimer?.stop()
        rescanTimer?.stop()
        pumpTimer?.stop()
        if inFlight.isEmpty {
            closeAll()
            return completion()
        }
        stopCompletion = completion
        pumpTimer?.start(afterMs: graceMs) { [weak self] in self?.handBack() }
    }

    /// Gives the entries still running back to the group: `XCLAIM … IDLE <lease>` makes them
    /// idle past the lease, so the next `XAUTOCLAIM` of any worker takes them.
    private func handBack() {
        guard let completion = stopCompletion else { return }
        stopCompletion = nil
        // Results already in hand are stored (their call goes out before the hand-back); the rest
        // are handed back.
        let storing = Set(successes.map(\.delivery.entry))
        storeSuccesses()
        let entries = inFlight.keys.filter { !storing.contains($0) }
        inFlight.removeAll()
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
        for timer in [pumpTimer, reclaimTimer, renewTimer, promoteTimer, janitorTimer, rescanTimer] { timer?.close() }
        janitorTimer = nil
        rescanTimer = nil
        pumpTimer = nil
        reclaimTimer = nil
        renewTimer = nil
        promoteTimer = nil
        reader.close()
        commands.close()
    }
}
