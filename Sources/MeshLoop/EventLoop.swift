// EventLoop: one libuv loop, owned by the thread that runs it.

internal import CLibUV
import Glibc

/// A libuv event loop. Every handle of a process is created, used and closed on its loop's thread.
///
/// Each test and each executable owns its loop (never `uv_default_loop()`), runs it, closes every
/// handle, and finishes with `close()`, which fails with `EBUSY` when a handle was leaked.
///
/// ```swift
/// let loop = try EventLoop()
/// let timer = try LoopTimer(loop: loop)
/// timer.start(afterMs: 10) { timer.close() }
/// loop.run()
/// try loop.close()
/// ```
public final class EventLoop {
    let uv: UnsafeMutablePointer<uv_loop_t>
    private var closed = false
    private let owner: pthread_t
    /// Set by `busyPoll(microseconds:)` or `adaptivePoll(microseconds:)`; nil (the default) when the
    /// loop sleeps as soon as it can.
    var busyPolling: BusyPoll?

    public init() throws(UVError) {
        CLibUV_ignoreSIGPIPE()
        uv = .allocate(capacity: 1)
        let rc = uv_loop_init(uv)
        if rc < 0 {
            uv.deallocate()
            throw UVError(code: rc, operation: "uv_loop_init")
        }
        owner = pthread_self()
    }

    deinit {
        // A loop with live handles cannot be freed without corrupting them: leak it, loudly in tests.
        if !closed && uv_loop_close(uv) == 0 { closed = true }
        if closed { uv.deallocate() }
    }

    /// Runs until no referenced handle is active or `stop()` is called.
    public func run() {
        assertInLoop()
        uv_run(uv, UV_RUN_DEFAULT)
    }

    /// Runs one iteration, waiting for I/O if there is nothing ready. Returns whether handles remain.
    @discardableResult
    public func runOnce() -> Bool {
        assertInLoop()
        return uv_run(uv, UV_RUN_ONCE) != 0
    }

    /// Runs until `condition()` holds or the loop has nothing left to do.
    public func run(until condition: () -> Bool) {
        while !condition() {
            if !runOnce() && !condition() { return }
        }
    }

    /// Runs until every handle's close callback has run (at most `maxTurns` turns): what a
    /// program does after closing everything, so the loop can be closed without a leak.
    public func runUntilHandlesClosed(maxTurns: Int = 50) {
        for _ in 0..<maxTurns where openHandleCount > 0 { runOnce() }
    }

    /// Makes `run()` return after the current iteration.
    public func stop() { uv_stop(uv) }

    /// Closes the loop; fails with `EBUSY` if any handle is still open (a leak).
    public func close() throws(UVError) {
        guard !closed else { return }
        busyPolling?.idle.close()
        busyPolling = nil
        // Let pending close callbacks run first.
        uv_run(uv, UV_RUN_NOWAIT)
        try check(uv_loop_close(uv), "uv_loop_close")
        closed = true
    }

    /// Number of handles still open (active or not), for leak checks in tests; the loop's own
    /// busy-poll handle is not counted (`close()` closes it).
    public var openHandleCount: Int {
        var count = 0
        uv_walk(uv, { _, arg in arg!.assumingMemoryBound(to: Int.self).pointee += 1 }, &count)
        return count - (busyPolling == nil ? 0 : 1)
    }

    /// The `uv_loop_t` itself, for C libraries with a libuv adapter (hiredis). Loop thread only.
    public var unsafeUVLoop: UnsafeMutableRawPointer { UnsafeMutableRawPointer(uv) }

    /// The loop's cached clock in milliseconds (updated at the start of each iteration).
    public var nowMs: UInt64 { uv_now(uv) }

    /// A monotonic clock in nanoseconds (`uv_hrtime`).
    public static func hrtimeNs() -> UInt64 { uv_hrtime() }

    /// Wall-clock milliseconds since the epoch (`uv_gettimeofday`): for comparing with times other
    /// machines wrote (a Redis stream entry's id), never for timers.
    public static func wallMs() -> UInt64 {
        var tv = uv_timeval64_t()
        uv_gettimeofday(&tv)
        return UInt64(tv.tv_sec) * 1_000 + UInt64(tv.tv_usec) / 1_000
    }

    /// Fills `buffer` from the kernel's CSPRNG (`uv_random`, synchronous: `getrandom(2)` on Linux).
    public static func randomBytes(_ buffer: UnsafeMutableRawBufferPointer) throws(UVError) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        let rc = uv_random(nil, nil, base, buffer.count, 0, nil)
        if rc < 0 { throw UVError(code: rc, operation: "uv_random") }
    }

    /// Checks that the caller runs on the loop's thread (debug builds).
    @inline(__always)
    public func assertInLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(pthread_equal(owner, pthread_self()) != 0, "EventLoop used off its thread", file: file, line: line)
    }
}
