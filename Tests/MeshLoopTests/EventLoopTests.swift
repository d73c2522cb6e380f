// EventLoopTests: timers, signals, cross-thread wakeups and the leak check every test relies on.

import Foundation
import MeshLoop
import Testing

@Suite struct EventLoopTests {
    @Test func timerFiresAndLoopClosesClean() throws {
        let loop = try EventLoop()
        let timer = try LoopTimer(loop: loop)
        var fired = 0
        timer.start(afterMs: 5, repeatMs: 5) {
            fired += 1
            if fired == 3 { timer.close() }
        }
        loop.run()
        #expect(fired == 3)
        #expect(loop.openHandleCount == 0)
        try loop.close()
    }

    @Test func anIdleHandleRunsOnTheNextTurnWithoutTheLoopSleepingFirst() throws {
        let loop = try EventLoop()
        let idle = try LoopIdle(loop: loop)
        let second = try LoopIdle(loop: loop)
        let timer = try LoopTimer(loop: loop)
        var order: [String] = []
        var startedAt: UInt64 = 0
        var ranAt: UInt64 = 0
        timer.start(afterMs: 1, repeatMs: 200) {
            order.append("timer")
            if order.count > 4 {
                for h in [timer, idle, second] as [LoopHandle] { h.close() }
                return
            }
            startedAt = EventLoop.hrtimeNs()
            idle.start {
                order.append("idle")
                idle.stop()
                // Started from an idle callback: runs on the next turn; the poll between does not
                // wait for the 200 ms timer.
                second.start {
                    ranAt = EventLoop.hrtimeNs()
                    second.stop()
                }
            }
        }
        loop.run()
        #expect(order == ["timer", "idle", "timer", "idle", "timer"])
        #expect(ranAt > startedAt && ranAt - startedAt < 100_000_000, "ran within 100 ms, not after the timer")
        #expect(!idle.isActive && !second.isActive)
        try loop.close()
    }

    @Test func runOnceRunsOncePerTurnAfterTheTurnsCallbacks() throws {
        let loop = try EventLoop()
        let idle = try LoopIdle(loop: loop)
        let timer = try LoopTimer(loop: loop)
        var events: [String] = []
        timer.start(afterMs: 1) {
            for i in 0..<3 {
                // Only the first body is kept while a run is pending.
                idle.runOnce {
                    events.append("body \(i)")
                    // Asked again from its own run: once more, on the next turn.
                    if i == 0 { idle.runOnce { events.append("again") } }
                }
                events.append("asked \(i)")
            }
        }
        for _ in 0..<100 where events.count < 5 { _ = loop.runOnce() }
        for _ in 0..<3 { _ = loop.runOnce() }
        #expect(events == ["asked 0", "asked 1", "asked 2", "body 0", "again"])
        #expect(!idle.isActive)
        idle.close()
        timer.close()
        loop.run()
        try loop.close()
    }

    @Test func randomBytesComeFromTheKernel() throws {
        var a = [UInt8](repeating: 0, count: 64)
        var b = [UInt8](repeating: 0, count: 64)
        try a.withUnsafeMutableBytes { try EventLoop.randomBytes($0) }
        try b.withUnsafeMutableBytes { try EventLoop.randomBytes($0) }
        #expect(a != b && a != [UInt8](repeating: 0, count: 64))
    }

    @Test func closingWithAnOpenHandleIsReportedAsALeak() throws {
        let loop = try EventLoop()
        let timer = try LoopTimer(loop: loop)
        #expect(throws: UVError.self) { try loop.close() }
        timer.close()
        try loop.close()
    }

    @Test func closeCallbacksRunOnceAndReleaseTheOwner() throws {
        let loop = try EventLoop()
        weak var weakTimer: LoopTimer?
        var closes = 0
        do {
            let timer = try LoopTimer(loop: loop)
            weakTimer = timer
            timer.onClose { closes += 1 }
            timer.close()
            timer.close()  // idempotent
        }
        #expect(weakTimer != nil, "an open/closing handle keeps its owner alive")
        loop.run()
        #expect(closes == 1)
        #expect(weakTimer == nil, "the close callback released the owner")
        try loop.close()
    }

    @Test func signalIsDeliveredOnTheLoop() throws {
        let loop = try EventLoop()
        var got: Int32 = 0
        let watcher = try SignalWatcher(loop: loop, signal: SIGUSR2) { signum in got = signum }
        let kicker = try LoopTimer(loop: loop)
        kicker.start(afterMs: 1) { raise(SIGUSR2) }
        loop.run(until: { got != 0 })
        #expect(got == SIGUSR2)
        watcher.close()
        kicker.close()
        try loop.close()
    }

    @Test func runUntilReturnsWhenNothingIsLeft() throws {
        let loop = try EventLoop()
        loop.run(until: { false })  // no handles: returns at once
        try loop.close()
    }
}
