// ServiceShutdownTests: the stop sequence in order, the grace backstop, the second signal.

import Logging
import MeshLoop
import Testing

@testable import MeshOptions

@Suite struct ServiceShutdownTests {
    /// A loop kept alive by a timer, as a service's listener would.
    func service(graceMs: UInt64) throws -> (EventLoop, ServiceShutdown, LoopTimer) {
        let loop = try EventLoop()
        let shutdown = ServiceShutdown(loop: loop, logger: Logger(label: "test"), shipper: nil, graceMs: graceMs)
        let work = try LoopTimer(loop: loop)
        work.start(afterMs: 60_000) {}
        return (loop, shutdown, work)
    }

    @Test func stepsRunInOrderAndEveryHandleCloses() throws {
        let (loop, shutdown, work) = try service(graceMs: 5_000)
        var steps: [String] = []
        shutdown.stopAccepting = { steps.append("stop accepting") }
        shutdown.drain = { grace, done in
            steps.append("drain \(grace)")
            shutdown.poll(until: { steps.count >= 2 }) {
                steps.append("drained")
                done()
            }
        }
        shutdown.close = {
            steps.append("close")
            work.close()
        }
        let kick = try LoopTimer(loop: loop)
        kick.start(afterMs: 1) {
            kick.close()
            shutdown.stop()
        }
        try shutdown.run()
        #expect(steps == ["stop accepting", "drain 5000", "drained", "close"])
        #expect(loop.openHandleCount == 0)
        try loop.close()
    }

    @Test func aDrainThatNeverEndsIsCutOffAfterTheGracePeriod() throws {
        let (loop, shutdown, work) = try service(graceMs: 50)
        shutdown.marginMs = 10
        var closed = 0
        shutdown.drain = { _, _ in }  // never calls back
        shutdown.close = {
            closed += 1
            work.close()
        }
        let kick = try LoopTimer(loop: loop)
        kick.start(afterMs: 1) {
            kick.close()
            shutdown.stop()
        }
        let start = loop.nowMs
        try shutdown.run()
        #expect(closed == 1)
        #expect(loop.nowMs - start >= 60)
        try loop.close()
    }

    @Test func aSecondSignalHurriesAndCloseRunsOnce() throws {
        let (loop, shutdown, work) = try service(graceMs: 60_000)
        var pending: (() -> Void)?
        var hurried = 0
        var closed = 0
        shutdown.drain = { _, done in pending = done }
        shutdown.hurry = {
            hurried += 1
            pending?()
            pending?()  // a drain that calls back twice still closes once
        }
        shutdown.close = {
            closed += 1
            work.close()
        }
        let kick = try LoopTimer(loop: loop)
        kick.start(afterMs: 1, repeatMs: 1) {
            shutdown.stop()
            if hurried > 0 { kick.close() }
        }
        try shutdown.run()
        #expect(hurried == 1 && closed == 1)
        try loop.close()
    }
}
