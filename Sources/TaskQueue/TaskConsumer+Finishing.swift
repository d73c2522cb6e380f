// TaskConsumer+Finishing: an attempt's outcome stored — successes batched per loop turn, retries
// and failures one script call each, and kept for later while Redis refuses or too few replicas
// confirm it.

import MeshRedis
import TaskPipeline

extension TaskConsumer {
    /// Stores `outcome`. `applied`: an earlier try ran the script but too few replicas confirmed
    /// it; its "duplicate" now is that earlier write, found again (and this try's `WAIT` covers it).
    func finish(_ delivery: Delivery, _ outcome: AttemptOutcome, tries: Int = 0, applied: Bool = false) {
        guard inFlight[delivery.entry] != nil else { return }
        let c = configuration
        let script: RedisScript
        let scriptKeys: [String]
        var arguments: [[UInt8]] = [Array(keys.group.utf8), Array(delivery.entry.utf8)]
        // What to count once the script said "ok".
        let done: ConsumerEvent
        let decision = c.policy.decide(after: outcome, attempt: delivery.attempt)
        switch decision {
        case .succeed:
            guard case .success(let json) = outcome else { return }
            successes.append((delivery, json, tries, applied))
            if successes.count == 1 { commands.atEndOfTurn { [weak self] in self?.storeSuccesses() } }
            return
        case .retry(let delayMs), .postpone(let delayMs):
            // A counted retry or an uncounted postponement: the same keys and arguments.
            let counted = decision == .retry(delayMs: delayMs)
            script = counted ? retryScript : postponeScript
            scriptKeys = [keys.task(delivery.taskID), keys.stream, keys.delayed, keys.counters]
            arguments += [outcome.errorText, String(delayMs), delivery.taskID].map { Array($0.utf8) }
            done =
                counted
                ? .retrying(delivery, delayMs: delayMs, error: outcome.errorText)
                : .postponed(delivery, delayMs: delayMs, error: outcome.errorText)
        case .fail(let error):
            script = failScript
            scriptKeys = [keys.task(delivery.taskID), keys.stream, keys.dead, keys.counters]
            arguments += [error, String(c.resultTTLSeconds), delivery.taskID, String(c.deadLetterCap)].map {
                Array($0.utf8)
            }
            done = .failed(delivery, error: error)
        }
        // Terminal states wait for replicas (a failover must not undo them unnoticed); a retry or
        // postponement need not (lost, the task is run again), and its script is not idempotent.
        let replicated = script === failScript
        commands.eval(script, keys: scriptKeys, arguments: arguments, replicated: replicated) { [weak self] result in
            guard let self else { return }
            if case .failure(let error) = result, let reply = error.unreplicated.flatMap(FinishReply.decode),
                reply == .ok || (reply == .duplicate && applied)
            {
                self.problem("\(script.name) \(delivery.taskID): \(error)")
                return self.finishLater(delivery, outcome, tries: tries, applied: true)
            }
            switch ScriptAnswer(result, FinishReply.decode) {
            case .reply(let reply) where reply == .ok || (reply == .duplicate && applied):
                switch done {
                case .retrying: self.stats.retried += 1
                case .postponed: self.stats.postponed += 1
                default: self.stats.failed += 1
                }
                self.onEvent?(done)
                self.release(delivery.entry)
            case .reply(let other):
                self.stats.skipped += 1
                self.onEvent?(.skipped(taskID: delivery.taskID, entry: delivery.entry, reason: other.rawValue))
                self.release(delivery.entry)
            case .malformed(let what):
                self.problem("\(script.name) script answered \(what)")
                self.dropped(delivery.entry)
            case .refused(let why), .unanswered(let why):
                self.problem("\(script.name) \(delivery.taskID): \(why)")
                self.finishLater(delivery, outcome, tries: tries, applied: applied)
            }
        }
    }

    /// Stores every success of the last loop turn with one `succeed` call.
    func storeSuccesses() {
        let batch = successes
        successes = []
        guard !batch.isEmpty else { return }
        var scriptKeys = [keys.stream, keys.counters]
        var arguments: [[UInt8]] = [Array(keys.group.utf8), Array(String(configuration.resultTTLSeconds).utf8)]
        scriptKeys.reserveCapacity(2 + batch.count)
        arguments.reserveCapacity(2 + 2 * batch.count)
        for (delivery, json, _, _) in batch {
            scriptKeys.append(keys.task(delivery.taskID))
            arguments.append(Array(delivery.entry.utf8))
            arguments.append(json)
        }
        commands.eval(succeedScript, keys: scriptKeys, arguments: arguments, replicated: true) { [weak self] result in
            guard let self else { return }
            var unconfirmed = false
            var answer = ScriptAnswer(result) { FinishReply.decodeBatch($0, count: batch.count) }
            if case .failure(let error) = result, let value = error.unreplicated,
                let replies = FinishReply.decodeBatch(value, count: batch.count)
            {
                self.problem("succeed (\(batch.count) tasks): \(error)")
                unconfirmed = true
                answer = .reply(replies)
            }
            switch answer {
            case .reply(let replies):
                for ((delivery, json, tries, applied), reply) in zip(batch, replies) {
                    let written = reply == .ok || (reply == .duplicate && applied)
                    if written && unconfirmed {
                        // Written, not confirmed: another try finds it again and waits again.
                        self.finishLater(delivery, .success(result: json), tries: tries, applied: true)
                    } else if written {
                        self.stats.succeeded += 1
                        self.stats.e2e.record(entry: delivery.entry)
                        self.onEvent?(.succeeded(delivery))
                        self.release(delivery.entry)
                    } else {
                        self.stats.skipped += 1
                        self.onEvent?(
                            .skipped(taskID: delivery.taskID, entry: delivery.entry, reason: reply.rawValue))
                        self.release(delivery.entry)
                    }
                }
            case .malformed(let what):
                self.problem("succeed script answered \(what)")
                for (delivery, _, _, _) in batch { self.dropped(delivery.entry) }
            case .refused(let why), .unanswered(let why):
                self.problem("succeed (\(batch.count) tasks): \(why)")
                for (delivery, json, tries, applied) in batch {
                    self.finishLater(delivery, .success(result: json), tries: tries, applied: applied)
                }
            }
        }
    }

    /// Redis is away, or refuses for now: keep the outcome and try again in a second while the
    /// lease lasts; past that the entry is run again (its report is written once whatever happens).
    /// While draining, a try that would come after the grace deadline is not made: the entry
    /// stays in flight and is handed back then.
    func finishLater(_ delivery: Delivery, _ outcome: AttemptOutcome, tries: Int, applied: Bool = false) {
        let maxTries = Int(max(1, configuration.leaseMs / 2_000))
        let retryMs: UInt64 = 1_000
        switch lifecycle {
        case .running: break
        case .draining(let deadlineMs, _): if clock.nowMs + retryMs >= deadlineMs { return }
        case .idle, .stopped: return dropped(delivery.entry)
        }
        guard tries < maxTries, let timer = try? clock.makeTimer() else { return dropped(delivery.entry) }
        timer.start(afterMs: retryMs) { [weak self] in
            timer.close()
            self?.finish(delivery, outcome, tries: tries + 1, applied: applied)
        }
    }
}
