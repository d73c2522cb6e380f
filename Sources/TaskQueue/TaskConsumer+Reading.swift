// TaskConsumer+Reading: XREADGROUP as capacity allows, and starting a batch with one script call.

import MeshLoop
import MeshRedis

extension TaskConsumer {
    var freeSlots: Int { configuration.concurrency - inFlight.count }

    /// Reads as many new entries as there are free slots, when none is being read and the messages
    /// in flight are within their budget: while reads find work, with the read-and-start script
    /// (one round trip); otherwise with a blocking `XREADGROUP` on the reader connection, which
    /// waits for work without polling (a chunk at most: its entries are started whatever their size).
    func pump() {
        // (While a delivered batch is being started, its messages' size is not known yet.)
        guard isRunning, pause == nil, !readOutstanding, startsOutstanding == 0, reader.isConnected, freeSlots > 0,
            messageBytesInFlight < configuration.maxMessageBytesInFlight
        else { return }
        readOutstanding = true
        if readsFindWork && ownPendingCursor == nil && commands.isConnected { return readAndStart() }
        let rescanning = ownPendingCursor
        let command = [
            "XREADGROUP", "GROUP", keys.group, configuration.name, "COUNT", String(min(freeSlots, Self.readChunk)),
            "BLOCK",
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
                    if rescanning == nil && !batch.isEmpty { self.readsFindWork = true }
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
                self.readRetryTimer?.start(afterMs: 500) { [weak self] in self?.pump() }
            case .success(let other):
                self.problem("XREADGROUP: unexpected reply \(other)")
                self.readRetryTimer?.start(afterMs: 500) { [weak self] in self?.pump() }
            case .failure:
                break  // the reader reconnects; its onConnect pumps again
            }
        }
    }

    /// Reads new entries and starts them with one script call (`TaskScripts.readAndStart`).
    private func readAndStart() {
        let c = configuration
        let arguments = [
            keys.group, c.name, String(c.policy.maxDeliveries), String(c.policy.maxAttempts),
            String(c.resultTTLSeconds), String(c.deadLetterCap), String(freeSlots), keys.taskPrefix,
            String(c.maxMessageBytesInFlight - messageBytesInFlight), String(Self.readChunk),
        ]
        commands.eval(
            readAndStartScript, keys: [keys.stream, keys.dead, keys.counters],
            arguments: arguments.map { Array($0.utf8) }
        ) { [weak self] result in
            guard let self else { return }
            self.readOutstanding = false
            switch ScriptAnswer(result, ReadStartReply.decode) {
            case .reply(let read):
                if read.entries.isEmpty { self.readsFindWork = false }
                // An entry without a task id was acknowledged by the script.
                for item in read.entries {
                    guard !item.taskID.isEmpty else {
                        self.skippedWithoutTaskID(item.entry)
                        continue
                    }
                    self.inFlight[item.entry] = 0
                    self.started(item.entry, item.taskID, item.reply)
                }
                self.pump()
            case .refused(let why), .unanswered(let why), .malformed(let why):
                // Entries may have been read (and started) without our knowing which: re-read our
                // own pending list after a pause; meanwhile wait for new work the blocking way.
                self.problem("read and start: \(why)")
                self.readsFindWork = false
                if why.contains("NOGROUP") { self.commandsConnected() }
                self.rescanLater()
                self.readRetryTimer?.start(afterMs: 500) { [weak self] in self?.pump() }
            }
        }
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

    /// After a reconnect, replies that were on the wire are gone: entries delivered to us (or
    /// started by us) may sit in our pending list with nobody working on them. Re-read our own
    /// pending entries (`XREADGROUP … 0`) before new ones, as the Redis streams guide recommends,
    /// instead of waiting a whole lease for them to be reclaimed.
    func rescanOwnPending() {
        ownPendingCursor = "0"
    }

    /// Starts a batch of delivered entries with one script call (one round trip and one script
    /// invocation per `XREADGROUP` batch, not per task).
    func deliver(_ batch: [(entry: String, taskID: String)]) {
        var starting: [(entry: String, taskID: String)] = []
        for (entry, taskID) in batch where inFlight[entry] == nil {
            guard !taskID.isEmpty else {
                // Not a task (or its entry is gone): nothing to run; take it out of the pending list.
                skippedWithoutTaskID(entry)
                commands.send(["XACK", keys.stream, keys.group, entry]) { _ in }
                continue
            }
            inFlight[entry] = 0
            starting.append((entry, taskID))
        }
        guard !starting.isEmpty else { return }
        let c = configuration
        var arguments = [
            keys.group, c.name, String(c.policy.maxDeliveries), String(c.policy.maxAttempts),
            String(c.resultTTLSeconds), String(c.deadLetterCap),
        ]
        for (entry, taskID) in starting { arguments += [entry, taskID] }
        startsOutstanding += 1
        commands.eval(
            startScript, keys: [keys.stream, keys.dead, keys.counters] + starting.map { keys.task($0.taskID) },
            arguments: arguments.map { Array($0.utf8) }
        ) { [weak self] result in
            guard let self else { return }
            self.startsOutstanding -= 1
            switch ScriptAnswer(result, { StartReply.decodeBatch($0, count: starting.count) }) {
            case .reply(let replies):
                for ((entry, taskID), reply) in zip(starting, replies) { self.started(entry, taskID, reply) }
            case .refused(let why), .unanswered(let why), .malformed(let why):
                // The entries stay pending under our name and are re-read after a pause (or the
                // reconnect), or reclaimed after their lease.
                self.problem("start: \(why)")
                for (entry, _) in starting { self.dropped(entry) }
            }
            self.pump()
        }
    }

    /// Counts and reports an entry that names no task (it is not run).
    private func skippedWithoutTaskID(_ entry: String) {
        stats.skipped += 1
        onEvent?(.skipped(taskID: "", entry: entry, reason: "entry without a task id"))
    }

    private func started(_ entry: String, _ taskID: String, _ reply: StartReply) {
        switch reply {
        case .run(let message, let attempt):
            rescanDelayMs = 0
            // Counted only while the entry is ours (a drain may have let it go meanwhile).
            if let i = inFlight.index(forKey: entry) {
                let bytes = message.utf8.count
                messageBytesInFlight += bytes - inFlight.values[i]
                inFlight.values[i] = bytes
            }
            let delivery = Delivery(
                entry: entry, taskID: taskID, message: message, attempt: attempt, startedNs: EventLoop.hrtimeNs())
            stats.started += 1
            onEvent?(.started(delivery))
            processor(delivery) { [weak self] outcome in self?.finish(delivery, outcome) }
        case .poison(let error):
            stats.poisoned += 1
            onEvent?(.poisoned(taskID: taskID, entry: entry, error: error))
            release(entry)
        case .lost, .gone, .done:
            stats.skipped += 1
            onEvent?(.skipped(taskID: taskID, entry: entry, reason: reply.skipReason))
            release(entry)
        }
    }
}
