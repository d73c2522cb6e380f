// ReplicaWaitTests: submits and results that must reach a replica (WAIT), against a real primary
// and a replica frozen with SIGSTOP.

import Foundation
import MeshLoop
import MeshRedis
import MeshTestSupport
import Testing

@testable import TaskQueue

/// A primary and its replica, and clients on the primary that wait for one replica.
final class ReplicatedWorld {
    let loop: EventLoop
    let primary: RedisServer
    let replica: RedisServer
    let keys = TaskKeys()
    private var clients: [RedisClient] = []

    init() throws {
        primary = try RedisServer()
        replica = try RedisServer(overrides: ["--replicaof", "127.0.0.1", String(primary.port)])
        loop = try EventLoop()
        let synced = runLoop(loop, seconds: 20) {
            runProcess("/usr/bin/redis-cli", ["-s", self.replica.socketPath, "INFO", "replication"]).stdout
                .contains("master_link_status:up")
        }
        #expect(synced, "the replica never synced")
    }

    func client(minReplicas: Int) -> RedisClient {
        var config = RedisClient.Configuration()
        config.minReplicas = minReplicas
        config.replicaTimeoutMs = 300
        let c = RedisClient(loop: loop, endpoint: .unix(path: primary.socketPath), configuration: config)
        c.start()
        #expect(runLoop(loop, until: { c.isConnected }))
        clients.append(c)
        return c
    }

    /// A queue on a client waiting for `minReplicas`, its consumer group created.
    func queue(minReplicas: Int) -> QueueClient {
        let queue = QueueClient(redis: client(minReplicas: minReplicas))
        var ready = false
        queue.ensureGroup { _ in ready = true }
        #expect(runLoop(loop, until: { ready }))
        return queue
    }

    func cli(_ args: [String]) -> String {
        runProcess("/usr/bin/redis-cli", ["-s", primary.socketPath] + args).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() {
        replica.resume()
        for c in clients { c.close() }
        loop.runUntilHandlesClosed(maxTurns: 20)
        replica.stop()
        primary.stop()
    }
}

@Suite(.serialized) struct ReplicaWaitTests {
    func submit(_ w: ReplicatedWorld, _ queue: QueueClient, _ id: String, key: String? = nil)
        -> Result<SubmitOutcome, QueueError>
    {
        var outcome: Result<SubmitOutcome, QueueError>?
        queue.submit(id: id, message: "message of \(id)", idempotencyKey: key) { outcome = $0 }
        _ = runLoop(w.loop, until: { outcome != nil })
        return outcome ?? .failure(QueueError("no answer"))
    }

    @Test func aSubmitNoReplicaConfirmedIsWithdrawnAndRefused() throws {
        let w = try ReplicatedWorld()
        defer { w.stop() }
        let queue = w.queue(minReplicas: 1)
        #expect(try submit(w, queue, "t-1").get() == .created(id: "t-1"))

        // The replica freezes: submits, keyed or not, are refused and leave nothing behind.
        w.replica.pause()
        for (id, key) in [("t-2", "k-2"), ("t-3", nil)] as [(String, String?)] {
            guard case .failure(let error) = submit(w, queue, id, key: key) else {
                Issue.record("\(id): a submit no replica confirmed must not be accepted")
                continue
            }
            #expect("\(error)".contains("0 of 1 replicas") && "\(error)".contains("not kept"), "\(error)")
            #expect(!error.outcomeUnknown)
            #expect(w.cli(["EXISTS", w.keys.task(id)]) == "0", "\(id) withdrawn")
        }
        #expect(w.cli(["EXISTS", w.keys.idempotency("k-2")]) == "0", "the key goes with its task")
        #expect(w.cli(["XLEN", w.keys.stream]) == "1")
        #expect(w.cli(["HGET", w.keys.counters, "submitted"]) == "1")
        #expect(w.cli(["HGET", w.keys.counters, "withdrawn"]) == "2")

        // Back: the same key makes its task now.
        w.replica.resume()
        #expect(try submit(w, queue, "t-4", key: "k-2").get() == .created(id: "t-4"))
        #expect(w.cli(["XLEN", w.keys.stream]) == "2")
    }

    /// SUCCESS and FAILURE: the two states a failover must not undo unnoticed.
    @Test(arguments: [true, false])
    func aResultNoReplicaConfirmedIsStoredAgainAndCountedOnce(succeeds: Bool) throws {
        let w = try ReplicatedWorld()
        defer { w.stop() }
        // Submitted without waiting; the worker's results wait for the replica.
        let queue = w.queue(minReplicas: 0)
        var events: [ConsumerEvent] = []
        let consumer = TaskConsumer(
            loop: w.loop, commands: w.client(minReplicas: 1), reader: w.client(minReplicas: 1),
            configuration: TaskConsumer.Configuration(name: "c1")
        ) { _, done in done(succeeds ? .success(result: Array("{}".utf8)) : .permanent("bad input")) }
        consumer.onEvent = { events.append($0) }
        try consumer.start()
        let ended = { succeeds ? consumer.stats.succeeded : consumer.stats.failed }

        w.replica.pause()
        #expect(try submit(w, queue, "t-1").get() == .created(id: "t-1"))
        // The result is written, not confirmed: it is kept and stored again every second.
        #expect(runLoop(w.loop, seconds: 10, until: { consumer.stats.redisProblems >= 2 }))
        #expect(ended() == 0)
        w.replica.resume()
        #expect(runLoop(w.loop, seconds: 10, until: { ended() == 1 }))
        #expect(w.cli(["HGET", w.keys.task("t-1"), "state"]) == (succeeds ? "SUCCESS" : "FAILURE"))
        #expect(w.cli(["HGET", w.keys.counters, succeeds ? "succeeded" : "failed"]) == "1")
        #expect(w.cli(["XLEN", w.keys.dead]) == (succeeds ? "0" : "1"), "one dead letter for a failure")
        let finished = events.filter {
            switch $0 {
            case .succeeded, .failed: true
            default: false
            }
        }.count
        let skipped = events.filter { if case .skipped = $0 { true } else { false } }.count
        #expect(finished == 1 && skipped == 0, "one outcome, no duplicate: \(events)")
        var stopped = false
        consumer.stop(graceMs: 1_000) { stopped = true }
        #expect(runLoop(w.loop, until: { stopped }))
    }
}
