// ConsumerClockTests: the consumer's timers on a clock the test moves — intervals of a minute or
// ten tested in milliseconds, and nothing fires before its time.

import MeshRedis
import TaskPipeline
import Testing

@testable import TaskQueue

@Suite struct ConsumerClockTests {
    @Test func aDueRetryGoesBackOnTheStreamWhenThePromoteTimerFiresAndNotBefore() throws {
        let w = try QueueWorld()
        let clock = ManualClock()
        var attempts: [Int] = []
        let c = w.consumer(
            name: "c1", clock: clock,
            configure: {
                $0.promoteIntervalMs = 60_000
                $0.policy.baseDelayMs = 0  // due at once in Redis: only the promote timer holds it
            }
        ) { d, done in
            attempts.append(d.attempt)
            done(d.attempt == 1 ? .transient("UNAVAILABLE: down") : .success(result: Array("{}".utf8)))
        }
        try c.start()
        let id = try #require(w.submit("again")?.id)
        w.run(until: { w.record(id)?.state == .retry })
        #expect(w.integer(["ZCARD", w.keys.delayed]) == 1, "waiting in the delayed set, not promoted")
        clock.advance(byMs: 59_999)
        #expect(w.integer(["ZCARD", w.keys.delayed]) == 1, "not before the interval")
        clock.advance(byMs: 1)
        w.run(until: { w.record(id)?.state == .success })
        #expect(attempts == [1, 2])
        w.finish([c])
    }

    @Test func theGraceTimerHandsBackWhatIsStillRunningAtTheDeadline() throws {
        let w = try QueueWorld()
        let clock = ManualClock()
        var got = 0
        let c = w.consumer(name: "c1", clock: clock, configure: { $0.leaseMs = 30_000 }) { _, _ in got += 1 }
        try c.start()
        let id = try #require(w.submit("slow")?.id)
        w.run(until: { got == 1 })
        var stopped = false
        c.stop(graceMs: 600_000) { stopped = true }
        #expect(!c.isRunning && c.inFlightCount == 1)
        clock.advance(byMs: 599_999)
        #expect(!stopped, "still within the grace period")
        clock.advance(byMs: 1)
        w.run(until: { stopped })
        #expect(clock.activeTimers == 0, "every timer closed")
        // Handed back: idle past the lease, so any worker's next XAUTOCLAIM takes it.
        guard case .array(let pending?) = w.send(["XPENDING", w.keys.stream, w.keys.group, "-", "+", "10"]),
            case .array(let entry?) = pending.first, case .integer(let idle) = entry[2]
        else {
            Issue.record("no pending entry")
            return w.finish()
        }
        #expect(idle >= 30_000)
        #expect(w.record(id)?.state == .started)
        w.finish()
    }

    @Test func aLeaseTakenOverWhileTheTaskRunsIsReportedAtTheNextRenewal() throws {
        let w = try QueueWorld()
        let clock = ManualClock()
        var got: Delivery?
        var lost: [String] = []
        let c = w.consumer(name: "c1", clock: clock, configure: { $0.leaseMs = 30_000 }) { d, _ in got = d }
        c.onEvent = { if case .leasesLost(let entries) = $0 { lost += entries } }
        try c.start()
        _ = try #require(w.submit("slow"))
        w.run(until: { got != nil })
        let entry = try #require(got?.entry)
        clock.advance(byMs: 10_000)  // a renewal while c1 still holds it: nothing lost
        w.wait(ms: 100)
        #expect(lost.isEmpty && c.stats.leasesLost == 0)
        // Another worker takes the entry over, as XAUTOCLAIM would once c1's lease ran out.
        _ = w.send(["XCLAIM", w.keys.stream, w.keys.group, "c2", "0", entry, "JUSTID"])
        clock.advance(byMs: 10_000)
        w.run(until: { !lost.isEmpty })
        #expect(lost == [entry] && c.stats.leasesLost == 1)
        var stopped = false
        c.stop(graceMs: 0) { stopped = true }
        clock.advance(byMs: 0)  // the grace timer is on this clock too
        w.run(until: { stopped })
        w.finish()
    }
}
