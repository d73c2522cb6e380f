// TaskQueueTests: submit, status and every state change against a real redis-server.

import Foundation
import MeshLoop
import MeshRedis
import MeshTestSupport
import TaskPipeline
import TaskQueue
import Testing

@Suite struct TaskQueueTests {
    @Test func submitStoresTheHashAndTheEntryTogether() throws {
        let w = try QueueWorld()
        guard case .created(let id)? = w.submit("hello") else { Issue.record("not created"); return w.finish() }
        let r = try #require(w.record(id))
        #expect(r.state == .pending && r.attempts == 0 && r.createdAtMs > 1_700_000_000_000 && r.result == nil)
        #expect(w.integer(["XLEN", w.keys.stream]) == 1)
        #expect(w.send(["HGET", w.keys.task(id), "message"]).string == "hello")
        #expect(w.integer(["TTL", w.keys.task(id)]) == -1, "a live task never expires")
        #expect(w.record("no-such-task") == nil)
        w.finish()
    }

    /// The submits of one loop turn are stored with one script call, each task whole and in order
    /// — whatever the messages hold: packed end to end into one argument (`packSubmits`), one
    /// message must not bleed into the next, and one of 40 KiB takes Redis's path for big arguments.
    @Test func submitsOfOneLoopTurnAreStoredWithOneScriptCall() throws {
        let w = try QueueWorld()
        _ = w.send(["CONFIG", "RESETSTAT"])
        func message(_ i: Int) -> String {
            switch i % 5 {
            case 0: "message \(i)"
            case 1: ""
            case 2: "12 34 \(i) 56"  // digits and spaces, as the lengths are written
            case 3: "привет 🙂 \u{0} \\ \"\(i)\""
            default: String(repeating: "x\(i) ", count: 40 << 10 / 4)
            }
        }
        var outcomes: [Int: Result<SubmitOutcome, QueueError>] = [:]
        for i in 0..<50 {
            w.queue.submit(id: "t-\(i)", message: message(i), idempotencyKey: nil) { outcomes[i] = $0 }
        }
        w.run(until: { outcomes.count == 50 })
        for i in 0..<50 {
            #expect((try? outcomes[i]?.get()) == .created(id: "t-\(i)"))
            #expect(w.send(["HGET", w.keys.task("t-\(i)"), "message"]).string == message(i))
            #expect(w.send(["HGET", w.keys.task("t-\(i)"), "state"]).string == "PENDING")
        }
        #expect(w.integer(["XLEN", w.keys.stream]) == 50)
        let stats = w.send(["INFO", "commandstats"]).string ?? ""
        #expect(stats.contains("cmdstat_evalsha:calls=1,") || stats.contains("cmdstat_eval:calls=1,"), "\(stats)")
        // The stream's entries are in submit order.
        guard case .array(let entries?) = w.send(["XRANGE", w.keys.stream, "-", "+"]) else {
            Issue.record("no entries")
            return w.finish()
        }
        let ids = entries.compactMap { e -> String? in
            guard case .array(let pair?) = e, case .array(let fields?) = pair[1] else { return nil }
            return fields[1].string
        }
        #expect(ids == (0..<50).map { "t-\($0)" })
        w.finish()
    }

    /// Packed arguments that do not match the keys are refused before anything is written.
    @Test(arguments: [
        ["2 1", "t-0m"],  // fewer lengths than tasks
        ["3 1 3 9", "t-0at-1b"],  // lengths beyond the bytes
        ["3 1 3 1", "t-0at-1bc"],  // bytes beyond the lengths
    ])
    func mismatchedPackedSubmitsWriteNothing(_ arguments: [String]) throws {
        let w = try QueueWorld()
        let reply = w.eval(
            TaskScripts.submitMany(), keys: [w.keys.stream, w.keys.counters, w.keys.task("t-0"), w.keys.task("t-1")],
            arguments)
        guard case .error(let error) = reply else { Issue.record("not refused: \(reply)"); return w.finish() }
        #expect(error.contains("do not match the keys"), "\(error)")
        #expect(w.integer(["XLEN", w.keys.stream]) == 0)
        #expect(w.integer(["EXISTS", w.keys.task("t-0"), w.keys.task("t-1"), w.keys.counters]) == 0)
        w.finish()
    }

    /// With Redis gone, every gathered submit fails (the 503 path); none is left without an answer.
    @Test func gatheredSubmitsFailTogetherWhenRedisIsGone() throws {
        let w = try QueueWorld()
        w.server.stop()
        w.run(until: { !w.redis.isConnected })
        var failures = 0
        for i in 0..<10 {
            w.queue.submit(id: "t-\(i)", message: "m", idempotencyKey: nil) {
                if case .failure = $0 { failures += 1 }
            }
        }
        w.run(until: { failures == 10 })
        w.finish()
    }

    @Test func anIdempotencyKeyReturnsTheSameTaskOnce() throws {
        let w = try QueueWorld()
        let first = try #require(w.submit("pay me", key: "k-1"))
        let again = try #require(w.submit("pay me", key: "k-1"))
        let other = try #require(w.submit("something else", key: "k-1"))
        guard case .created(let id) = first, case .existing(let sameID) = again, case .conflict(let conflictID) = other
        else { Issue.record("\(first) \(again) \(other)"); return w.finish() }
        #expect(id == sameID && id == conflictID)
        #expect(w.integer(["XLEN", w.keys.stream]) == 1, "one task, however often the key comes")
        #expect(w.integer(["TTL", w.keys.idempotency("k-1")]) > 86_000)
        w.finish()
    }

    @Test func aConsumerRunsATaskToSuccessInOneAtomicStep() throws {
        let w = try QueueWorld()
        var seen: [Delivery] = []
        let c = w.consumer(name: "c1") { delivery, done in
            seen.append(delivery)
            done(.success(result: Array(#"{"status":"processed","alerts":[]}"#.utf8)))
        }
        try c.start()
        let id = try #require(w.submit("my secret")?.id)
        w.run(until: { w.record(id)?.state == .success })
        let r = try #require(w.record(id))
        #expect(r.attempts == 1 && r.result == Array(#"{"status":"processed","alerts":[]}"#.utf8))
        #expect(seen.map(\.message) == ["my secret"] && seen.first?.attempt == 1)
        #expect(w.integer(["XLEN", w.keys.stream]) == 0, "the entry is deleted")
        #expect(w.pendingCount() == 0)
        #expect(w.send(["HEXISTS", w.keys.task(id), "message"]) == .integer(0), "the raw message is gone once done")
        let ttl = w.integer(["TTL", w.keys.task(id)])
        #expect(ttl > 86_000 && ttl <= 86_400)
        w.finish([c])
    }

    @Test func terminalStatesAreStickyInRedis() throws {
        let w = try QueueWorld()
        let id = try #require(w.submit("x")?.id)
        _ = w.send(["XREADGROUP", "GROUP", w.keys.group, "c", "COUNT", "1", "STREAMS", w.keys.stream, ">"])
        let entry = try #require(w.send(["HGET", w.keys.task(id), "entry"]).string)
        let succeed = TaskScripts.succeed()
        let fail = TaskScripts.fail()
        let retry = TaskScripts.retry()
        #expect(
            w.eval(
                succeed, keys: [w.keys.stream, w.keys.counters, w.keys.task(id)], [w.keys.group, "60", entry, "{}"])
                == .array([.bulk(Array("ok".utf8))]))
        #expect(
            w.eval(
                succeed, keys: [w.keys.stream, w.keys.counters, w.keys.task(id), w.keys.task("no-such-task")],
                [w.keys.group, "60", entry, "{\"x\":1}", "1-1", "{}"]
            ) == .array([.bulk(Array("duplicate".utf8)), .bulk(Array("gone".utf8))]))
        #expect(
            w.eval(
                fail, keys: [w.keys.task(id), w.keys.stream, w.keys.dead, w.keys.counters],
                [w.keys.group, entry, "late", "60", id, "100"]
            )
            .string == "duplicate")
        #expect(
            w.eval(
                retry, keys: [w.keys.task(id), w.keys.stream, w.keys.delayed, w.keys.counters],
                [w.keys.group, entry, "late", "10", id]
            )
            .string == "duplicate")
        let r = try #require(w.record(id))
        #expect(r.state == .success && r.result == Array("{}".utf8) && r.error == nil)
        #expect(w.integer(["XLEN", w.keys.dead]) == 0 && w.integer(["ZCARD", w.keys.delayed]) == 0)
        w.finish()
    }

    @Test func transientFailuresRetryWithBackoffOutsideThePendingList() throws {
        let w = try QueueWorld()
        var attempts: [Int] = []
        var pendingWhileWaiting: [Int64] = []
        let c = w.consumer(name: "c1", configure: { $0.policy.baseDelayMs = 150 }) { delivery, done in
            attempts.append(delivery.attempt)
            done(
                delivery.attempt < 3
                    ? .transient("UNAVAILABLE: alert-service down") : .success(result: Array("{}".utf8)))
        }
        try c.start()
        let id = try #require(w.submit("retry me")?.id)
        var states: Set<TaskState> = []
        w.run(until: {
            if let r = w.record(id) {
                states.insert(r.state)
                if r.state == .retry {
                    #expect(r.error?.contains("UNAVAILABLE") == true && r.retryAtMs != nil)
                    // Atomically: while the task waits in the delayed set, nothing is pending.
                    var replies: [RedisValue] = []
                    for command in [
                        ["MULTI"], ["ZSCORE", w.keys.delayed, id], ["XPENDING", w.keys.stream, w.keys.group], ["EXEC"],
                    ] {
                        w.redis.send(command) { replies.append((try? $0.get()) ?? .error("no reply")) }
                    }
                    w.run(until: { replies.count == 4 })
                    if case .array(let results?) = replies[3], results.count == 2, !results[0].isNull,
                        case .array(let p?) = results[1], case .integer(let n) = p[0]
                    {
                        pendingWhileWaiting.append(n)
                    }
                }
                return r.state == .success
            }
            return false
        })
        #expect(attempts == [1, 2, 3])
        #expect(states.contains(.retry))
        #expect(pendingWhileWaiting.allSatisfy { $0 == 0 }, "a delayed retry never sits in the pending list")
        #expect(w.record(id)?.attempts == 3)
        #expect(w.integer(["ZCARD", w.keys.delayed]) == 0)
        w.finish([c])
    }

    @Test func permanentFailuresFailAtOnceAndAreDeadLettered() throws {
        let w = try QueueWorld()
        var calls = 0
        let c = w.consumer(name: "c1") { _, done in
            calls += 1
            done(.permanent("INVALID_ARGUMENT: task_id must be ..."))
        }
        try c.start()
        let id = try #require(w.submit("bad")?.id)
        w.run(until: { w.record(id)?.state == .failure })
        #expect(calls == 1 && w.record(id)?.attempts == 1)
        #expect(w.record(id)?.error?.hasPrefix("INVALID_ARGUMENT") == true)
        let dead = w.send(["XRANGE", w.keys.dead, "-", "+"])
        #expect("\(dead)".contains(id) && "\(dead)".contains("\"bad\""), "the dead letter keeps the message for replay")
        w.finish([c])
    }

    @Test func theLastTransientFailureIsFinal() throws {
        let w = try QueueWorld()
        let c = w.consumer(
            name: "c1",
            configure: {
                $0.policy.maxAttempts = 3
                $0.policy.baseDelayMs = 20
            }
        ) { _, done in done(.transient("DEADLINE_EXCEEDED")) }
        try c.start()
        let id = try #require(w.submit("never works")?.id)
        w.run(until: { w.record(id)?.state == .failure })
        let r = try #require(w.record(id))
        #expect(r.attempts == 3 && r.error?.contains("gave up after 3 attempts") == true)
        #expect(w.integer(["XLEN", w.keys.dead]) == 1)
        #expect(c.stats.retried == 2 && c.stats.failed == 1)
        var counters: [String: Int64] = [:]
        w.queue.counters { counters = (try? $0.get()) ?? [:] }
        w.run(until: { !counters.isEmpty })
        #expect(counters == ["submitted": 1, "retried": 2, "failed": 1])
        w.finish([c])
    }

    @Test func aDeadWorkersTaskIsTakenOverAndCountsAsAnAttempt() throws {
        let w = try QueueWorld()
        // c1 takes the task and "dies": it never finishes, and its connections go away.
        var c1Got = 0
        let c1 = w.consumer(name: "c1", configure: { $0.leaseMs = 1_000 }) { _, _ in c1Got += 1 }
        try c1.start()
        let id = try #require(w.submit("survive")?.id)
        w.run(until: { c1Got == 1 })
        var c1Stopped = false
        c1.stop(graceMs: 0) { c1Stopped = true }  // no hand-back wait: the lease must run out
        w.run(until: { c1Stopped })
        let c2 = w.consumer(name: "c2", configure: { $0.leaseMs = 1_000 }) { d, done in
            done(.success(result: Array("{\"attempt\":\(d.attempt)}".utf8)))
        }
        try c2.start()
        w.run(until: { w.record(id)?.state == .success })
        #expect(w.record(id)?.attempts == 2)
        #expect(c2.stats.reclaimed >= 1)
        w.finish([c2])
    }

    @Test func aResultRedisRefusesForAWhileIsKeptAndStoredWhenItAnswersAgain() throws {
        let w = try QueueWorld()
        var finishLater: (() -> Void)?
        var runs = 0
        let c = w.consumer(name: "c1") { _, done in  // the default lease: a minute
            runs += 1
            finishLater = { done(.success(result: Array("{}".utf8))) }
        }
        try c.start()
        let id = try #require(w.submit("stored late")?.id)
        w.run(until: { finishLater != nil })
        // A script that never ends makes Redis answer everything else with -BUSY (as a restarted
        // server answers -LOADING while it reads its AOF): not a reason to drop the result.
        w.send(["CONFIG", "SET", "busy-reply-threshold", "20"])
        let blocker = w.client()
        blocker.start()
        w.run(until: { blocker.isConnected })
        blocker.send(["EVAL", "while true do end", "0"], timeoutMs: 60_000) { _ in }
        w.wait(ms: 100)
        finishLater?()
        w.run(until: { c.stats.redisProblems >= 2 })
        var killed = false
        w.redis.send(["SCRIPT", "KILL"]) { _ in killed = true }
        w.run(until: { killed })
        w.run(seconds: 10, until: { w.record(id)?.state == .success })
        #expect(runs == 1 && w.record(id)?.attempts == 1, "the result was kept, not the task run again")
        #expect(w.pendingCount() == 0)
        w.finish([c])
    }

    @Test func entriesRedisRefusedToStartAreReadAgainWithoutWaitingForTheLease() throws {
        let w = try QueueWorld()
        let ids = try (0..<3).map { i in try #require(w.submit("refused \(i)")?.id) }
        w.send(["CONFIG", "SET", "maxmemory", "1"])
        var runs = 0
        let c = w.consumer(name: "c1") { _, done in  // the default lease: a minute
            runs += 1
            done(.success(result: Array("{}".utf8)))
        }
        try c.start()
        w.run(until: { c.stats.redisProblems >= 2 })
        #expect(runs == 0)
        w.send(["CONFIG", "SET", "maxmemory", "0"])
        w.run(seconds: 15, until: { ids.allSatisfy { w.record($0)?.state == .success } })
        #expect(runs == 3 && c.stats.reclaimed == 0, "re-read from its own pending list, not reclaimed")
        w.finish([c])
    }

    @Test func aBacklogIsReadAndStartedWithOneScriptCallPerBatch() throws {
        // Once a read finds work, the next batches are read and started by one script call
        // (readAndStart): no separate XREADGROUP round trip, no XPENDING per batch.
        let w = try QueueWorld()
        let ids = try (0..<200).map { i in try #require(w.submit("backlog \(i)")?.id) }
        w.send(["CONFIG", "RESETSTAT"])
        var runs: [String: Int] = [:]
        let c = w.consumer(name: "c1", configure: { $0.concurrency = 16 }) { delivery, done in
            runs[delivery.taskID, default: 0] += 1
            done(.success(result: Array("{}".utf8)))
        }
        try c.start()
        w.run(until: { ids.allSatisfy { w.record($0)?.state == .success } })
        #expect(runs.count == 200 && runs.values.allSatisfy { $0 == 1 }, "each task ran once")
        let stats = w.send(["INFO", "commandstats"]).string ?? ""
        let xpending = stats.split(separator: "\r\n").first { $0.hasPrefix("cmdstat_xpending:") }
        let calls = xpending.flatMap { $0.split(separator: "=").dropFirst().first?.split(separator: ",").first }
        #expect(
            Int(calls.map(String.init) ?? "0")! <= 2, "only the first, blocking read's batch needs XPENDING: \(stats)")
        #expect(w.pendingCount() == 0)
        w.finish([c])
    }

    /// Reads pause while the messages in flight reach their budget — checked before each chunk a
    /// read takes, so one read passes it by a chunk at most — and every task still runs once.
    @Test func readsPauseWhileTheMessagesInFlightReachTheirBudget() throws {
        let w = try QueueWorld()
        let message = String(repeating: "m", count: 1_000)
        let ids = try (0..<100).map { _ in try #require(w.submit(message)?.id) }
        var held: [() -> Void] = []
        var runs: [String: Int] = [:]
        let c = w.consumer(name: "c1", configure: { $0.maxMessageBytesInFlight = 10_000 }) { delivery, done in
            runs[delivery.taskID, default: 0] += 1
            held.append { done(.success(result: Array("{}".utf8))) }
        }
        try c.start()
        // The first read (blocking) takes one chunk: 32,000 bytes, over the budget; then none.
        let chunk = TaskConsumer.readChunk
        w.run(until: { runs.count == chunk })
        w.wait(ms: 300)
        #expect(runs.count == chunk && c.inFlightCount == chunk)
        // Finishing 25 leaves 7,000 bytes: under the budget, so one more chunk, then none.
        for finish in held.prefix(25) { finish() }
        held.removeFirst(25)
        w.run(until: { runs.count == 2 * chunk })
        w.wait(ms: 300)
        #expect(runs.count == 2 * chunk && c.inFlightCount == 7 + chunk)
        while runs.count < 100 || !held.isEmpty {
            let batch = held
            held.removeAll()
            for finish in batch { finish() }
            w.run(until: { !held.isEmpty || runs.count == 100 })
        }
        w.run(until: { ids.allSatisfy { w.record($0)?.state == .success } })
        #expect(runs.count == 100 && runs.values.allSatisfy { $0 == 1 }, "each task ran once")
        w.finish([c])
    }

    @Test func entriesReadAndStartedWhileRedisRefusesAreReadAgainAndRunOnce() throws {
        // The read-and-start script refused (-BUSY: another client's script runs past the time
        // limit) after reads had found work: nothing is lost or run twice; the consumer waits the
        // blocking way and re-reads its own pending list once Redis answers again.
        let w = try QueueWorld()
        let ids = try (0..<20).map { i in try #require(w.submit("refused later \(i)")?.id) }
        var runs: [String: Int] = [:]
        var held: [(AttemptOutcome) -> Void] = []
        let c = w.consumer(name: "c1", configure: { $0.concurrency = 8 }) { delivery, done in
            runs[delivery.taskID, default: 0] += 1
            held.append(done)
        }
        var problems: [String] = []
        c.onEvent = { if case .redisProblem(let text) = $0 { problems.append(text) } }
        try c.start()
        // Eight running (the first read was the blocking one, so reads now find work); four finish
        // while reading is paused, so there is room when reading resumes — into a busy Redis.
        w.run(until: { held.count == 8 })
        c.pause(reason: "test")
        for done in held.prefix(4) { done(.success(result: Array("{}".utf8))) }
        held.removeFirst(4)
        w.run(until: { c.inFlightCount == 4 })
        w.send(["CONFIG", "SET", "lua-time-limit", "10"])
        let busy = Process()
        busy.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        busy.arguments = ["-s", w.server.socketPath, "EVAL", "while true do end", "0"]
        busy.standardOutput = FileHandle.nullDevice
        busy.standardError = FileHandle.nullDevice
        try busy.run()
        usleep(100_000)
        c.resume()
        w.run(until: { problems.contains { $0.hasPrefix("read and start: ") } })
        _ = runProcess("/usr/bin/redis-cli", ["-s", w.server.socketPath, "SCRIPT", "KILL"])
        busy.waitUntilExit()
        w.run(
            seconds: 20,
            until: {
                for done in held { done(.success(result: Array("{}".utf8))) }
                held = []
                return ids.allSatisfy { w.record($0)?.state == .success }
            })
        #expect(runs.count == 20 && runs.values.allSatisfy { $0 == 1 }, "each task ran once: \(runs.values.sorted())")
        #expect(problems.contains { $0.hasPrefix("read and start: ") && $0.contains("BUSY") }, "\(problems)")
        #expect(w.pendingCount() == 0)
        w.finish([c])
    }

    @Test func aRenewedLeaseIsNotTakenOver() throws {
        let w = try QueueWorld()
        var timer: LoopTimerBox?
        let c1 = w.consumer(name: "c1", configure: { $0.leaseMs = 1_000 }) { _, done in
            timer = LoopTimerBox(loop: w.loop, ms: 2_500) { done(.success(result: Array("{}".utf8))) }
        }
        var stolen = 0
        let c2 = w.consumer(name: "c2", configure: { $0.leaseMs = 1_000 }) { _, done in
            stolen += 1
            done(.success(result: Array("{}".utf8)))
        }
        try c1.start()
        let id = try #require(w.submit("slow")?.id)
        w.run(until: { w.record(id)?.state == .started })
        try c2.start()
        w.run(until: { w.record(id)?.state == .success })
        #expect(stolen == 0 && w.record(id)?.attempts == 1)
        _ = timer
        w.finish([c1, c2])
    }

    /// A batch's holders are read with one XPENDING over its id range; an entry another consumer
    /// holds now is still refused, in or out of order.
    @Test func aBatchStartsOnlyTheEntriesItsConsumerHolds() throws {
        let w = try QueueWorld()
        let ids = (0..<3).compactMap { w.submit("m\($0)")?.id }
        _ = w.send(["XREADGROUP", "GROUP", w.keys.group, "a", "COUNT", "3", "STREAMS", w.keys.stream, ">"])
        let entries = try ids.map { try #require(w.send(["HGET", w.keys.task($0), "entry"]).string) }
        _ = w.send(["XCLAIM", w.keys.stream, w.keys.group, "b", "0", entries[1]])
        func start(_ order: [Int]) -> [String] {
            var args = [w.keys.group, "a", "10", "5", "60", "100"]
            for i in order { args += [entries[i], ids[i]] }
            let reply = w.eval(
                TaskScripts.start(),
                keys: [w.keys.stream, w.keys.dead, w.keys.counters] + order.map { w.keys.task(ids[$0]) },
                args)
            guard case .array(let items?) = reply else { return ["\(reply)"] }
            return items.map { item in
                guard case .array(let parts?) = item else { return "?" }
                return parts.first?.string ?? "?"
            }
        }
        #expect(start([0, 1, 2]) == ["run", "lost", "run"])
        #expect(start([2, 1, 0]) == ["run", "lost", "run"], "out of order: each entry asked for alone")
        #expect(w.record(ids[0])?.attempts == 2 && w.record(ids[1])?.attempts == 0)
        w.finish()
    }

    @Test func poisonTasksAreDeadLetteredWithoutRunning() throws {
        let w = try QueueWorld()
        let id = try #require(w.submit("poison")?.id)
        let start = TaskScripts.start()
        _ = w.send(["XREADGROUP", "GROUP", w.keys.group, "a", "COUNT", "1", "STREAMS", w.keys.stream, ">"])
        let entry = try #require(w.send(["HGET", w.keys.task(id), "entry"]).string)
        func startAs(_ consumer: String) -> RedisValue {
            // One entry of a batch: the reply is the array of per-entry replies.
            let replies = w.eval(
                start, keys: [w.keys.stream, w.keys.dead, w.keys.counters, w.keys.task(id)],
                [w.keys.group, consumer, "10", "2", "60", "100", entry, id])
            guard case .array(let items?) = replies, items.count == 1 else { return .error("\(replies)") }
            return items[0]
        }
        #expect(startAs("b") == .array([.bulk(Array("lost".utf8))]), "only the holder may start it")
        guard case .array(let first?) = startAs("a") else { Issue.record(); return w.finish() }
        #expect(first.first?.string == "run" && first.last?.string == "1")
        // a dies; b takes over (a delivery), runs attempt 2 and dies too; c takes over.
        _ = w.send(["XCLAIM", w.keys.stream, w.keys.group, "b", "0", entry])
        guard case .array(let second?) = startAs("b") else { Issue.record(); return w.finish() }
        #expect(second.last?.string == "2")
        _ = w.send(["XCLAIM", w.keys.stream, w.keys.group, "c", "0", entry])
        guard case .array(let third?) = startAs("c") else { Issue.record(); return w.finish() }
        #expect(third.first?.string == "poison")
        let r = try #require(w.record(id))
        #expect(r.state == .failure && r.error?.contains("died") == true)
        #expect(w.integer(["XLEN", w.keys.dead]) == 1 && w.integer(["XLEN", w.keys.stream]) == 0)
        w.finish()
    }

    @Test func consumersThatAreGoneAreForgottenOnceNothingIsPending() throws {
        let w = try QueueWorld()
        // "ghost" read an entry long ago and acknowledged it; "holder" still holds one.
        _ = w.submit("a")
        _ = w.submit("b")
        _ = w.send(["XREADGROUP", "GROUP", w.keys.group, "ghost", "COUNT", "1", "STREAMS", w.keys.stream, ">"])
        _ = w.send(["XREADGROUP", "GROUP", w.keys.group, "holder", "COUNT", "1", "STREAMS", w.keys.stream, ">"])
        let ghostEntry = w.send(["XRANGE", w.keys.stream, "-", "+", "COUNT", "1"])
        if case .array(let items?) = ghostEntry, case .array(let first?) = items.first, let id = first.first?.string {
            _ = w.send(["XACK", w.keys.stream, w.keys.group, id])
        }
        w.wait(ms: 300)
        let c = w.consumer(
            name: "janitor",
            configure: {
                $0.forgetConsumersIdleMs = 200
                $0.janitorIntervalMs = 100
                $0.leaseMs = 600_000  // the holder's entry is not reclaimed during this test
            }
        ) { _, _ in }
        try c.start()
        func names() -> [String] {
            guard case .array(let cs?) = w.send(["XINFO", "CONSUMERS", w.keys.stream, w.keys.group]) else { return [] }
            return cs.compactMap { c in
                guard case .array(let f?) = c else { return nil }
                return f.count > 1 ? f[1].string : nil
            }.sorted()
        }
        w.run(until: { !names().contains("ghost") })
        #expect(names() == ["holder", "janitor"])
        w.finish([c])
    }

    @Test func statusRecordParsesOnlyWhatMakesSense() {
        func reply(_ values: [String?]) -> RedisValue { .array(values.map { .bulk($0.map { Array($0.utf8) }) }) }
        #expect(TaskRecord(id: "a", fields: .array([])) == nil)
        #expect(TaskRecord(id: "a", fields: reply([String?](repeating: nil, count: 9))) == nil)  // no such hash
        #expect(TaskRecord(id: "a", fields: reply(["WHAT", "1", "1", "1", nil, nil, nil, nil, nil])) == nil)
        #expect(TaskRecord(id: "a", fields: reply(["PENDING", "0"])) == nil)  // not the fields asked for
        #expect(TaskRecord(id: "a", fields: .error("WRONGTYPE")) == nil)
        let r = TaskRecord(
            id: "a",
            fields: reply(["RETRY", "2", "1000", "2000", nil, "boom", "3000", "1500", "1800 RETRY boom\ngarbage\n"]))
        #expect(r?.state == .retry && r?.attempts == 2 && r?.retryAtMs == 3000 && r?.updatedAtMs == 2000)
        #expect(r?.error == "boom" && r?.result == nil && r?.startedAtMs == 1500)
        #expect(
            r?.history == [.init(atMs: 1800, state: "RETRY", detail: "boom")], "a line that makes no sense is skipped")
        let done = TaskRecord(id: "a", fields: reply(["SUCCESS", "1", "1000", "2000", "{}", nil, "3000", nil, nil]))
        #expect(done?.result == Array("{}".utf8) && done?.retryAtMs == nil && done?.history == [])
    }
}

/// A one-shot timer kept alive by the test.
final class LoopTimerBox {
    let timer: LoopTimer
    init(loop: EventLoop, ms: UInt64, _ body: @escaping () -> Void) {
        timer = try! LoopTimer(loop: loop)
        timer.start(afterMs: ms) { [timer] in
            body()
            timer.close()
        }
    }
}
