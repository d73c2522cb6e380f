// LoopIdle: work to do on the next loop turn, without letting the loop sleep first.

internal import CLibUV

/// A libuv idle handle (`uv_idle_t`): while started, `body` runs once per loop turn, before the
/// loop polls for I/O — and the poll does not block while an idle handle is active. Started from
/// any callback (I/O, timer, another idle handle), `body` runs promptly, after every callback of
/// the current turn; so whatever those callbacks queued can be sent in one go (`runOnce`; see
/// `HiredisLoopAdapter`, `RedisClient.atEndOfTurn`, `WireConnection`).
///
/// (A prepare handle would not do: one started during the prepare phase waits for the next turn,
/// after a poll that may block.)
public final class LoopIdle: LoopHandle {
    private var callback: (() -> Void)?

    public init(loop: EventLoop) throws(UVError) {
        let h = try initializedHandle(uv_idle_t.self, "uv_idle_init") { uv_idle_init(loop.uv, $0) }
        super.init(loop: loop, handle: h)
    }

    private var idle: UnsafeMutablePointer<uv_idle_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_idle_t.self)
    }

    /// Runs `body` on every loop turn until `stop()`. Starting a started handle only replaces
    /// `body`.
    public func start(_ body: @escaping () -> Void) {
        precondition(!isClosing, "LoopIdle.start after close")
        callback = body
        uv_idle_start(idle) { LoopHandle.owner($0, as: LoopIdle.self).callback?() }
    }

    public func stop() { uv_idle_stop(idle) }

    /// Runs `body` once, after every callback of the current turn, then stops. While a run is
    /// pending, further calls change nothing (the pending `body` runs): the "gather what this
    /// turn's callbacks asked for, send it in one go" pattern.
    public func runOnce(_ body: @escaping () -> Void) {
        guard !isActive else { return }
        start { [unowned self] in
            self.stop()
            body()
        }
    }

    public var isActive: Bool { uv_is_active(handle) != 0 }

    override func willClose() { uv_idle_stop(idle) }
    override func didClose() { callback = nil }
}
