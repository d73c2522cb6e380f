// BusyPoll: ways for a loop to poll instead of sleeping for a moment, trading CPU time for the
// cost of a wake-up — after reads (opt-in), and while a message that lately came fast is awaited.

/// Keeps the loop polling for I/O without blocking (`epoll_wait` with a zero timeout) until a
/// deadline, then lets it sleep as usual. Two things set the deadline:
/// - after every read, a fixed window (`busyPoll(microseconds:)`, off unless asked for);
/// - while a message is awaited that has lately come within a limit (`adaptivePoll(microseconds:)`,
///   `awaitMessage(expectedNs:)`): an RPC client awaiting a reply, a server whose caller's next
///   request lately followed its answer at once — a quick exchange; it stops as soon as the
///   message is in (`endAwait()`).
///
/// Why: a sleeping loop pays for its wake-up on every message — the kernel wakes the thread, and on
/// a virtual machine the idle vCPU first has to be brought back by the hypervisor — which is most of
/// an empty call's round trip on a fast link (bench/RESULTS.md, rpc). A loop that polls is already
/// running when the answer arrives. Linux's `busy_poll` sysctl and `SO_BUSY_POLL` make the same
/// trade for NIC queues (which a Unix socket and loopback TCP do not have). The awaiting form is an
/// adaptive spin, as glibc's adaptive mutexes and Linux's optimistic spinning are: it spins only
/// where spinning has been paying, so where messages are slow — a busy server, a peer that shares
/// the core, a network between, a caller that pauses — the loop sleeps as before, and it never
/// spins longer than the limit.
///
/// A `LoopIdle` does it: while an idle handle is active, libuv polls with a zero timeout. The
/// handle is unreferenced, so it never keeps `run()` from returning.
final class BusyPoll {
    let idle: LoopIdle
    /// After each read, poll this long (0: not after reads).
    var readWindowNs: UInt64 = 0
    /// Spin for a message only when it is expected within this (0: never).
    var awaitLimitNs: UInt64 = 0
    private var readUntilNs: UInt64 = 0
    private var awaitUntilNs: UInt64 = 0

    init(loop: EventLoop) throws(UVError) {
        idle = try LoopIdle(loop: loop)
        idle.unref()
    }

    /// A read happened: poll (again) for the read window from now.
    @inline(__always)
    func noteRead() {
        guard readWindowNs > 0 else { return }
        readUntilNs = EventLoop.hrtimeNs() &+ readWindowNs
        start()
    }

    /// A message expected `expectedNs` from now is awaited: poll for at most the limit.
    func awaitMessage(expectedNs: UInt64) {
        guard awaitLimitNs > 0, expectedNs <= awaitLimitNs else { return }
        awaitUntilNs = EventLoop.hrtimeNs() &+ awaitLimitNs
        start()
    }

    /// Nothing is awaited any more: poll on only for the read window, if any.
    func endAwait() {
        awaitUntilNs = 0
        if idle.isActive && EventLoop.hrtimeNs() > readUntilNs { idle.stop() }
    }

    var isPolling: Bool { idle.isActive }

    private func start() {
        guard !idle.isActive else { return }
        // Unowned: the loop owns this object and closes the handle before letting it go.
        idle.start { [unowned self] in
            let now = EventLoop.hrtimeNs()
            if now > readUntilNs && now > awaitUntilNs { idle.stop() }
        }
    }
}

extension EventLoop {
    /// The longest `busyPoll(microseconds:)` and `adaptivePoll(microseconds:)` accept: a second of
    /// polling would be a spinning loop, not a latency trade.
    public static let maxBusyPollMicroseconds = 100_000

    /// Polls for `microseconds` after every read instead of sleeping at once (see `BusyPoll`); 0
    /// turns it off. Set it before the loop runs.
    public func busyPoll(microseconds: Int) throws(UVError) {
        try pollingState(microseconds).readWindowNs = UInt64(microseconds) * 1_000
    }

    /// Lets callers spin for a message they expect within `microseconds` (see `awaitMessage`); 0
    /// turns it off. Set it before the loop runs.
    public func adaptivePoll(microseconds: Int) throws(UVError) {
        try pollingState(microseconds).awaitLimitNs = UInt64(microseconds) * 1_000
    }

    private func pollingState(_ microseconds: Int) throws(UVError) -> BusyPoll {
        assertInLoop()
        precondition((0...Self.maxBusyPollMicroseconds).contains(microseconds), "poll window out of range")
        if let busyPolling { return busyPolling }
        let state = try BusyPoll(loop: self)
        busyPolling = state
        return state
    }

    /// The busy-poll window after reads in microseconds (0: off).
    public var busyPollMicroseconds: Int { Int((busyPolling?.readWindowNs ?? 0) / 1_000) }

    /// The longest wait for an expected message a caller may spin through, in microseconds (0: off).
    public var adaptivePollMicroseconds: Int { Int((busyPolling?.awaitLimitNs ?? 0) / 1_000) }

    /// Whether `awaitMessage` can spin at all: callers skip their timing when it cannot.
    @inline(__always)
    public var isAdaptivePolling: Bool { (busyPolling?.awaitLimitNs ?? 0) > 0 }

    /// A caller now awaits a message it expects in `expectedNs` (what such messages took lately):
    /// within the adaptive-poll limit, the loop polls until `endAwait()` or the limit passes;
    /// otherwise nothing changes.
    @inline(__always)
    public func awaitMessage(expectedNs: UInt64) { busyPolling?.awaitMessage(expectedNs: expectedNs) }

    /// The caller awaits nothing more: stop polling for messages. (Shared by the loop's callers: one
    /// that is done may end another's spin early, which costs that one a wake-up, nothing else.)
    @inline(__always)
    public func endAwait() { busyPolling?.endAwait() }

    /// Whether the loop is polling now rather than free to sleep.
    public var isBusyPolling: Bool { busyPolling?.isPolling ?? false }
}
