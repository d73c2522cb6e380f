// LoopPrepare: work to do once per loop turn, right before the loop waits for I/O.

internal import CLibUV

/// A libuv prepare handle (`uv_prepare_t`): while started, `body` runs on every loop turn just
/// before the loop blocks for I/O — after the timers and after every callback of the previous
/// turn. So whatever those callbacks queued can be sent in one go (see `HiredisLoopAdapter`).
public final class LoopPrepare: LoopHandle {
    private var callback: (() -> Void)?

    public init(loop: EventLoop) throws(UVError) {
        let p = allocateHandle(uv_prepare_t.self)
        let rc = uv_prepare_init(loop.uv, p)
        if rc < 0 {
            p.deallocate()
            throw UVError(code: rc, operation: "uv_prepare_init")
        }
        super.init(loop: loop, handle: p)
    }

    private var prepare: UnsafeMutablePointer<uv_prepare_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_prepare_t.self)
    }

    /// Runs `body` before every wait for I/O until `stop()`. Starting a started handle only
    /// replaces `body`.
    public func start(_ body: @escaping () -> Void) {
        precondition(!isClosing, "LoopPrepare.start after close")
        callback = body
        uv_prepare_start(prepare) { LoopHandle.owner($0, as: LoopPrepare.self).callback?() }
    }

    public func stop() { uv_prepare_stop(prepare) }

    public var isActive: Bool { uv_is_active(handle) != 0 }

    override func willClose() { uv_prepare_stop(prepare) }
    override func didClose() { callback = nil }
}
