// PollWatcher: readiness of a file descriptor owned by a C library (hiredis's socket).

internal import CLibUV

/// Watches a socket some C library owns (`uv_poll_t`) and reports when it is readable or writable.
public final class PollWatcher: LoopHandle {
    /// Called with (readable, writable, error). On an error both readiness flags are set, so the
    /// owner performs its read and write and discovers the socket error itself.
    private var callback: ((Bool, Bool, UVError?) -> Void)?

    public init(loop: EventLoop, socket fd: Int32, _ body: @escaping (Bool, Bool, UVError?) -> Void) throws(UVError) {
        let h = try initializedHandle(uv_poll_t.self, "uv_poll_init_socket") { uv_poll_init_socket(loop.uv, $0, fd) }
        super.init(loop: loop, handle: h)
        callback = body
    }

    private var poll: UnsafeMutablePointer<uv_poll_t> {
        UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_poll_t.self)
    }

    /// The events asked for last (-1: never asked).
    private var watching: Int32 = -1

    /// Sets the events of interest; none stops watching. Asking again for the same events costs
    /// nothing (`uv_poll_start` would re-register the socket with epoll every time).
    public func watch(readable: Bool, writable: Bool) {
        guard !isClosing else { return }
        let events = (readable ? Int32(UV_READABLE.rawValue) : 0) | (writable ? Int32(UV_WRITABLE.rawValue) : 0)
        guard events != watching else { return }
        watching = events
        if events == 0 {
            uv_poll_stop(poll)
            return
        }
        uv_poll_start(poll, events) { h, status, events in
            let me = LoopHandle.owner(h, as: PollWatcher.self)
            if status < 0 {
                me.callback?(true, true, UVError(code: status, operation: "poll"))
            } else {
                let readable = events & Int32(UV_READABLE.rawValue) != 0
                if readable { me.loop.busyPolling?.noteRead() }
                me.callback?(readable, events & Int32(UV_WRITABLE.rawValue) != 0, nil)
            }
        }
    }

    override func willClose() { uv_poll_stop(poll) }
    override func didClose() { callback = nil }
}
