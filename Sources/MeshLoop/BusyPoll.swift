// BusyPoll: an opt-in way for a loop to poll instead of sleeping right after I/O, trading CPU
// time for the cost of a wake-up.

/// After every read, the loop keeps polling for I/O without blocking (`epoll_wait` with a zero
/// timeout) until `window` has passed with nothing read; then it sleeps as usual.
///
/// Why: a sleeping loop pays for its wake-up on every message — the kernel wakes the thread, and on
/// a virtual machine the idle vCPU first has to be brought back by the hypervisor — which is most of
/// an empty call's round trip on a fast link (bench/RESULTS.md, rpc). A loop that polls for a
/// moment after a read is already running when the answer or the next request arrives. The price
/// is up to `window` of CPU after each burst of traffic; an idle loop still costs nothing. Linux's
/// `busy_poll` sysctl and `SO_BUSY_POLL` make the same trade for NIC queues (which a Unix socket
/// and loopback TCP do not have); this is its event-loop form, off unless asked for, since on a
/// machine whose cores are all busy the polling takes CPU from the very process it waits for.
///
/// A `LoopIdle` does it: while an idle handle is active, libuv polls with a zero timeout. The
/// handle is unreferenced, so it never keeps `run()` from returning.
final class BusyPoll {
    let idle: LoopIdle
    let windowNs: UInt64
    var lastReadNs: UInt64 = 0

    init(loop: EventLoop, windowNs: UInt64) throws(UVError) {
        idle = try LoopIdle(loop: loop)
        idle.unref()
        self.windowNs = windowNs
    }

    /// A read happened: poll (again) for `windowNs` from now.
    @inline(__always)
    func noteRead() {
        lastReadNs = EventLoop.hrtimeNs()
        guard !idle.isActive else { return }
        // Unowned: the loop owns this object and closes the handle before letting it go.
        idle.start { [unowned self] in
            if EventLoop.hrtimeNs() &- lastReadNs > windowNs { idle.stop() }
        }
    }
}

extension EventLoop {
    /// The longest `busyPoll(microseconds:)` accepts: a second of polling after each read would be
    /// a spinning loop, not a latency trade.
    public static let maxBusyPollMicroseconds = 100_000

    /// Polls for `microseconds` after every read instead of sleeping at once (see `BusyPoll`); 0
    /// turns it off. Set it before the loop runs.
    public func busyPoll(microseconds: Int) throws(UVError) {
        assertInLoop()
        precondition((0...Self.maxBusyPollMicroseconds).contains(microseconds), "busy poll window out of range")
        busyPolling?.idle.close()
        busyPolling = nil
        guard microseconds > 0 else { return }
        busyPolling = try BusyPoll(loop: self, windowNs: UInt64(microseconds) * 1_000)
    }

    /// The busy-poll window in microseconds (0: off).
    public var busyPollMicroseconds: Int { Int((busyPolling?.windowNs ?? 0) / 1_000) }

    /// Whether the loop is polling now rather than free to sleep (a read came within the window).
    public var isBusyPolling: Bool { busyPolling?.idle.isActive ?? false }
}
