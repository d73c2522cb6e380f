// PauseTests: an attempt no service took is not counted, and a paused consumer reads nothing.

import Foundation
import MeshRedis
import TaskPipeline
import Testing

@testable import TaskQueue

@Suite struct PauseTests {
    @Test func anUnprocessedAttemptIsPutBackUncountedAndRunsAgain() throws {
        let w = try QueueWorld()
        var attempts: [Int] = []
        let c = w.consumer(name: "c1", configure: { $0.policy.postponeMs = 300 }) { delivery, done in
            attempts.append(delivery.attempt)
            done(
                attempts.count < 4
                    ? .unprocessed("UNAVAILABLE: unix:a.sock: connection refused")
                    : .success(result: Array("{}".utf8)))
        }
        try c.start()
        let id = try #require(w.submit("wait for me")?.id)
        var sawPending = false
        w.run(until: {
            guard let r = w.record(id) else { return false }
            if r.state == .pending && r.error != nil {
                sawPending = true
                #expect(r.attempts == 0, "the attempt no service took does not count")
                #expect(r.error?.contains("connection refused") == true && r.retryAtMs != nil)
            }
            return r.state == .success
        })
        #expect(sawPending, "/status shows the task waiting, with why and until when")
        #expect(attempts == [1, 1, 1, 1], "every start is the first attempt")
        #expect(w.record(id)?.attempts == 1)
        #expect(c.stats.postponed == 3 && c.stats.retried == 0 && c.stats.failed == 0)
        #expect(w.integer(["ZCARD", w.keys.delayed]) == 0)
        #expect(w.integer(["XLEN", w.keys.dead]) == 0)
        #expect(w.pendingCount() == 0)
        w.finish([c])
    }

    @Test func aPausedConsumerReadsNothingAndResumesWhereItStopped() throws {
        let w = try QueueWorld()
        var ran: [String] = []
        let c = w.consumer(name: "c1") { delivery, done in
            ran.append(delivery.taskID)
            done(.success(result: Array("{}".utf8)))
        }
        try c.start()
        c.pause(reason: "no alert-service")
        #expect(c.figures()["worker_paused"] == 1)
        // A read already waiting (BLOCK) may deliver once; nothing after that is read.
        w.wait(ms: 300)
        let ids = (0..<5).compactMap { w.submit("task \($0)")?.id }
        w.wait(ms: 800)
        #expect(ran.isEmpty, "paused: no XREADGROUP")
        #expect(w.integer(["XLEN", w.keys.stream]) == 5)
        #expect(c.pausedMs >= 1_000)
        let pausedFor = c.resume()
        #expect(pausedFor >= 1_000)
        w.run(until: { ids.allSatisfy { w.record($0)?.state == .success } })
        #expect(Set(ran) == Set(ids))
        let figures = c.figures()
        #expect(figures["worker_paused"] == 0)
        #expect((figures["worker_paused_seconds_total"] ?? 0) >= 1)
        w.finish([c])
    }
}
