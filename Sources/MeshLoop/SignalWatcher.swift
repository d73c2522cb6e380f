// SignalWatcher: delivers a POSIX signal as a loop callback.

internal import CLibUV

/// Watches one signal (`uv_signal_t`): the handler runs on the loop, not in signal context.
/// The signal is unblocked on the loop's thread, since a blocked mask may be inherited from the parent.
public final class SignalWatcher: LoopHandle {
    private var callback: ((Int32) -> Void)?

    public static let interrupt: Int32 = 2  // SIGINT
    public static let terminate: Int32 = 15  // SIGTERM
    public static let hangup: Int32 = 1  // SIGHUP

    public init(loop: EventLoop, signal: Int32, _ body: @escaping (Int32) -> Void) throws(UVError) {
        let s = try initializedHandle(uv_signal_t.self, "uv_signal_init") { uv_signal_init(loop.uv, $0) }
        super.init(loop: loop, handle: s)
        callback = body
        _ = CLibUV_unblockSignal(signal)
        let started = uv_signal_start(
            s, { h, signum in LoopHandle.owner(h, as: SignalWatcher.self).callback?(signum) }, signal)
        if started < 0 {
            close()
            throw UVError(code: started, operation: "uv_signal_start(\(signal))")
        }
    }

    override func didClose() { callback = nil }
}
