// BusyPollTests: a busy-polling loop polls for its window after a read, then sleeps, and never
// keeps the loop from ending or closing.

import Glibc
import MeshLoop
import Testing

@Suite struct BusyPollTests {
    /// CPU time the calling thread has used (the loop runs on it), in milliseconds.
    func threadCPUMs() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD (a macro Swift does not import)
        let total = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec
        return Double(total) * 1_000 + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000
    }

    /// An echo server and a client connected to it on `loop`; returns what the caller closes.
    func echoPair(
        _ loop: EventLoop
    ) throws -> (
        listener: StreamListener, client: StreamConnection, received: () -> Int, accepted: () -> [StreamConnection]
    ) {
        var accepted: [StreamConnection] = []
        let listener = try StreamListener(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 0)) { conn in
            accepted.append(conn)
            conn.onRead = { conn.write(Array($0)) }
            conn.startReading()
        }
        var connected = false
        var received = 0
        let client = try StreamConnection.connect(loop: loop, to: listener.endpoint) {
            connected = (try? $0.get()) != nil
        }
        client.onRead = { received += $0.count }
        loop.run(until: { connected })
        client.startReading()
        return (listener, client, { received }, { accepted })
    }

    /// Runs the loop until a timer `ms` from now fires; returns the CPU the thread used meanwhile.
    func idle(_ loop: EventLoop, ms: UInt64) throws -> Double {
        let timer = try LoopTimer(loop: loop)
        var fired = false
        let before = threadCPUMs()
        timer.start(afterMs: ms) { fired = true }
        loop.run(until: { fired })
        timer.close()
        return threadCPUMs() - before
    }

    @Test func afterAReadTheLoopPollsForItsWindowThenSleeps() throws {
        let loop = try EventLoop()
        try loop.busyPoll(microseconds: 40_000)
        #expect(loop.busyPollMicroseconds == 40_000)
        let pair = try echoPair(loop)
        pair.client.write(Array("ping".utf8))
        loop.run(until: { pair.received() == 4 })
        #expect(loop.isBusyPolling)
        // The window (40 ms) falls inside the first wait: the thread spins through it — it runs on,
        // so even on a loaded machine it gets a share of a core.
        let spinning = try idle(loop, ms: 200)
        #expect(!loop.isBusyPolling)
        #expect(spinning >= 4, "a busy-polling loop used \(spinning) ms of CPU in its 40 ms window")
        // With nothing read since, the loop sleeps in epoll_wait: no CPU to speak of.
        let sleeping = try idle(loop, ms: 200)
        #expect(sleeping < 20, "an idle loop used \(sleeping) ms of CPU in 200 ms")
        pair.client.close()
        loop.run(until: { pair.accepted().allSatisfy { $0.isClosing } })
        pair.listener.close()
        // The polling handle is the loop's own: it keeps neither run() going nor close() from working.
        loop.run()
        #expect(loop.openHandleCount == 0)
        try loop.close()
    }

    @Test func offByDefaultTheLoopSleepsRightAfterARead() throws {
        let loop = try EventLoop()
        #expect(loop.busyPollMicroseconds == 0)
        let pair = try echoPair(loop)
        pair.client.write(Array("ping".utf8))
        loop.run(until: { pair.received() == 4 })
        #expect(!loop.isBusyPolling)
        let used = try idle(loop, ms: 200)
        #expect(used < 20, "a loop without busy polling used \(used) ms of CPU in 200 ms")
        pair.client.close()
        loop.run(until: { pair.accepted().allSatisfy { $0.isClosing } })
        pair.listener.close()
        loop.run()
        try loop.close()
    }

    @Test func aLoopClosedWhilePollingLeaksNothing() throws {
        let loop = try EventLoop()
        try loop.busyPoll(microseconds: 100_000)
        let pair = try echoPair(loop)
        pair.client.write(Array("ping".utf8))
        loop.run(until: { pair.received() == 4 })
        #expect(loop.isBusyPolling)
        pair.client.close()
        loop.run(until: { pair.accepted().allSatisfy { $0.isClosing } })
        pair.listener.close()
        // run() returns as soon as the last handle is closed, well inside the 100 ms window.
        let start = EventLoop.hrtimeNs()
        loop.run()
        #expect(EventLoop.hrtimeNs() - start < 90_000_000 || !loop.isBusyPolling)
        try loop.close()
        // Turning it off (or on again) replaces the handle; 0 is off.
        let other = try EventLoop()
        try other.busyPoll(microseconds: 50)
        try other.busyPoll(microseconds: 0)
        #expect(other.busyPollMicroseconds == 0)
        other.runUntilHandlesClosed()
        try other.close()
    }
}
