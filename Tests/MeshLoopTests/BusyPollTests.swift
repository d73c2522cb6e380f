// BusyPollTests: a busy-polling loop polls for its window after a read, then sleeps, and never
// keeps the loop from ending or closing.

import Glibc
import MeshLoop
import Testing

/// An echo server and a client connected to it on one loop.
final class EchoPair {
    let loop: EventLoop
    let listener: StreamListener
    let client: StreamConnection
    /// The listener's side of the connection.
    let server: StreamConnection
    private var received = 0

    init(_ loop: EventLoop) throws {
        self.loop = loop
        var accepted: [StreamConnection] = []
        listener = try StreamListener(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 0)) { conn in
            accepted.append(conn)
            conn.onRead = { conn.write(Array($0)) }
            conn.startReading()
        }
        var connected = false
        client = try StreamConnection.connect(loop: loop, to: listener.endpoint) { connected = (try? $0.get()) != nil }
        loop.run(until: { connected && !accepted.isEmpty })
        server = accepted[0]
        client.onRead = { [unowned self] in received += $0.count }
        client.startReading()
    }

    /// Sends four bytes and runs the loop until their echo is back: a read on each side.
    func ping() {
        let expected = received + 4
        client.write(Array("ping".utf8))
        loop.run(until: { received == expected })
    }

    /// Closes the client, waits for the server side to see it, closes the listener.
    func close() {
        client.close()
        loop.run(until: { server.isClosing })
        listener.close()
    }
}

@Suite struct BusyPollTests {
    /// CPU time the calling thread has used (the loop runs on it), in milliseconds.
    func threadCPUMs() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(1), &usage)  // RUSAGE_THREAD (a macro Swift does not import)
        let total = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec
        return Double(total) * 1_000 + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1_000
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
        let pair = try EchoPair(loop)
        pair.ping()
        #expect(loop.isBusyPolling)
        // The window (40 ms) falls inside the first wait: the thread spins through it — it runs on,
        // so even on a loaded machine it gets a share of a core.
        let spinning = try idle(loop, ms: 200)
        #expect(!loop.isBusyPolling)
        #expect(spinning >= 4, "a busy-polling loop used \(spinning) ms of CPU in its 40 ms window")
        // With nothing read since, the loop sleeps in epoll_wait: no CPU to speak of.
        let sleeping = try idle(loop, ms: 200)
        #expect(sleeping < 20, "an idle loop used \(sleeping) ms of CPU in 200 ms")
        pair.close()
        // The polling handle is the loop's own: it keeps neither run() going nor close() from working.
        loop.run()
        #expect(loop.openHandleCount == 0)
        try loop.close()
    }

    @Test func offByDefaultTheLoopSleepsRightAfterARead() throws {
        let loop = try EventLoop()
        #expect(loop.busyPollMicroseconds == 0)
        let pair = try EchoPair(loop)
        pair.ping()
        #expect(!loop.isBusyPolling)
        let used = try idle(loop, ms: 200)
        #expect(used < 20, "a loop without busy polling used \(used) ms of CPU in 200 ms")
        pair.close()
        loop.run()
        try loop.close()
    }

    @Test func aLoopClosedWhilePollingLeaksNothing() throws {
        let loop = try EventLoop()
        try loop.busyPoll(microseconds: 100_000)
        let pair = try EchoPair(loop)
        pair.ping()
        #expect(loop.isBusyPolling)
        pair.close()
        // run() returns as soon as the last handle is closed, inside the 100 ms window: the loop is
        // still polling then (a referenced handle would have kept run() going until the window
        // ended and the polling stopped).
        loop.run()
        #expect(loop.isBusyPolling)
        try loop.close()
        // 0 turns it off again (the handle stays, idle, until close()).
        let other = try EventLoop()
        try other.busyPoll(microseconds: 50)
        try other.busyPoll(microseconds: 0)
        #expect(other.busyPollMicroseconds == 0)
        other.runUntilHandlesClosed()
        try other.close()
    }

    @Test func aReplyExpectedWithinTheLimitIsAwaitedPollingUntilItEnds() throws {
        let loop = try EventLoop()
        try loop.adaptivePoll(microseconds: 100_000)
        #expect(loop.adaptivePollMicroseconds == 100_000 && loop.busyPollMicroseconds == 0)
        // Expected later than the limit: the loop sleeps as before.
        loop.awaitMessage(expectedNs: 200_000_000)
        #expect(!loop.isBusyPolling)
        // Within it: the loop polls — and spins through a wait, using CPU — until told that
        // nothing is awaited any more.
        loop.awaitMessage(expectedNs: 10_000)
        #expect(loop.isBusyPolling)
        let spinning = try idle(loop, ms: 30)
        #expect(spinning >= 3, "a loop awaiting a fast reply used \(spinning) ms of CPU in 30 ms")
        loop.endAwait()
        let sleeping = try idle(loop, ms: 200)
        #expect(!loop.isBusyPolling)
        #expect(sleeping < 20, "a loop awaiting nothing used \(sleeping) ms of CPU in 200 ms")
        loop.runUntilHandlesClosed()
        try loop.close()
    }

    @Test func aReplyThatDoesNotComeIsSpunForAtMostTheLimit() throws {
        let loop = try EventLoop()
        try loop.adaptivePoll(microseconds: 20_000)
        loop.awaitMessage(expectedNs: 1_000)
        #expect(loop.isBusyPolling)
        // No reply and no endAwait(): the spin ends by itself at 20 ms, and the rest of the
        // wait is asleep.
        let used = try idle(loop, ms: 300)
        #expect(!loop.isBusyPolling)
        #expect(used < 100, "a reply spin limited to 20 ms used \(used) ms of CPU in 300 ms")
        // Off (0, and the default): awaiting a reply never polls.
        try loop.adaptivePoll(microseconds: 0)
        loop.awaitMessage(expectedNs: 1)
        #expect(!loop.isBusyPolling)
        let fresh = try EventLoop()
        fresh.awaitMessage(expectedNs: 1)
        #expect(!fresh.isBusyPolling && fresh.adaptivePollMicroseconds == 0)
        for l in [loop, fresh] {
            l.runUntilHandlesClosed()
            try l.close()
        }
    }
}
