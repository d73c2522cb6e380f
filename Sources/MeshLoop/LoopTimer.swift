// LoopTimer: a one-shot or repeating libuv timer.

internal import CLibUV

/// A libuv timer (`uv_timer_t`). Start, stop and restart it freely; `close()` it when done.
public final class LoopTimer: LoopHandle {
    private var callback: (() -> Void)?

    public init(loop: EventLoop) throws(UVError) {
        let t = try initializedHandle(uv_timer_t.self, "uv_timer_init") { uv_timer_init(loop.uv, $0) }
        super.init(loop: loop, handle: t)
    }

    private var timer: UnsafeMutablePointer<uv_timer_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_timer_t.self)
    }

    /// Fires `body` after `afterMs`, then every `repeatMs` if non-zero. Replaces a running schedule.
    public func start(afterMs: UInt64, repeatMs: UInt64 = 0, _ body: @escaping () -> Void) {
        loop.assertInLoop()
        precondition(!isClosing, "LoopTimer.start after close")
        callback = body
        uv_timer_start(timer, { LoopHandle.owner($0, as: LoopTimer.self).fire() }, afterMs, repeatMs)
    }

    public func stop() { uv_timer_stop(timer) }

    /// Whether the timer is scheduled to fire.
    public var isActive: Bool { uv_is_active(handle) != 0 }

    private func fire() { callback?() }

    override func willClose() { uv_timer_stop(timer) }
    override func didClose() { callback = nil }
}
