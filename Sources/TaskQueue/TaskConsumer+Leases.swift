// TaskConsumer+Leases: renewing what we hold, reclaiming what dead workers held, promoting due
// retries, re-reading entries Redis refused, and forgetting consumers that are gone.

import MeshRedis

extension TaskConsumer {
    /// An entry left pending under our name without being finished (Redis refused the start or
    /// the result: `-LOADING` after a restart, `-OOM`, `-BUSY`, a reply lost on the wire) is
    /// re-read from our own pending list after a pause — not a whole lease later, when
    /// `XAUTOCLAIM` would find it. The pause doubles while Redis keeps refusing (each re-read
    /// counts as a delivery towards the poison cap) up to half a lease.
    func dropped(_ entry: String) {
        release(entry)
        rescanLater()
    }

    /// Re-reads our own pending entries after a pause that doubles while Redis keeps refusing.
    func rescanLater() {
        guard isRunning, rescanTimer?.isActive == false else { return }
        rescanDelayMs = min(max(500, rescanDelayMs * 2), max(500, configuration.leaseMs / 2))
        rescanTimer?.start(afterMs: rescanDelayMs) { [weak self] in
            self?.rescanOwnPending()
            self?.pump()
        }
    }

    /// Takes over entries whose worker stopped renewing their lease.
    /// Not while paused: what it took over could not run either (the lease keeps it safe).
    func reclaim() {
        guard isRunning, pause == nil, !reclaimOutstanding, commands.isConnected, freeSlots > 0 else { return }
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
    func renew() {
        guard !inFlight.isEmpty, commands.isConnected else { return }
        let entries = Array(inFlight.keys)
        commands.eval(
            renewScript, keys: [keys.stream],
            arguments: ([keys.group, configuration.name] + entries).map { Array($0.utf8) }
        ) { [weak self] result in
            guard let self else { return }
            switch ScriptAnswer(result, RenewReply.decode) {
            case .reply(let reply):
                // Redis answers in order: an entry finished before this renew was sent has been
                // released already, so one still in flight was really taken over.
                let lost = reply.lost.filter { self.inFlight[$0] != nil }
                guard !lost.isEmpty else { return }
                self.stats.leasesLost += UInt64(lost.count)
                self.onEvent?(.leasesLost(entries: lost))
            case .refused(let why), .unanswered(let why), .malformed(let why):
                self.problem("renew: \(why)")
            }
        }
    }

    /// Moves due retries back onto the stream, a batch at a time until fewer than a batch were due.
    func promote() {
        guard isRunning, commands.isConnected else { return }
        let batch = 200
        commands.eval(
            promoteScript, keys: [keys.delayed, keys.stream],
            arguments: [Array(String(batch).utf8), Array(keys.taskPrefix.utf8)]
        ) { [weak self] result in
            switch ScriptAnswer(result, PromoteReply.decode) {
            case .reply(let reply): if reply.due >= batch { self?.promote() }
            case .refused(let why), .unanswered(let why), .malformed(let why): self?.problem("promote: \(why)")
            }
        }
    }

    /// Deletes consumers with nothing pending that have not read for `forgetConsumersIdleMs`.
    /// (Deleting a consumer that still has pending entries would orphan them; those are reclaimed
    /// first, after which the consumer is forgotten on a later round.)
    func forgetGoneConsumers() {
        guard isRunning, commands.isConnected else { return }
        commands.send(["XINFO", "CONSUMERS", keys.stream, keys.group]) { [weak self] result in
            guard let self, case .success(.array(let consumers?)) = result else { return }
            for consumer in consumers.compactMap(QueueClient.fields) {
                guard let name = consumer["name"]?.string, name != self.configuration.name,
                    case .integer(let pending)? = consumer["pending"], pending == 0,
                    case .integer(let idle)? = consumer["idle"], idle >= Int64(self.configuration.forgetConsumersIdleMs)
                else { continue }
                self.commands.send(["XGROUP", "DELCONSUMER", self.keys.stream, self.keys.group, name]) { _ in }
            }
        }
    }

    /// Dead letters are kept `deadLetterTTLSeconds` (and at most `deadLetterCap`, trimmed as they come).
    func trimDeadLetters() {
        guard isRunning, commands.isConnected else { return }
        deadLetters.trim(ttlSeconds: configuration.deadLetterTTLSeconds) { [weak self] result in
            if case .failure(let e) = result { self?.problem("trimming dead letters: \(e)") }
        }
    }
}
