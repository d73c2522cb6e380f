// LoopHandle: the one ownership rule for libuv handles, shared by every handle type.

internal import CLibUV

/// Base of every libuv handle wrapper.
///
/// The ownership rule: a handle's `data` holds one retained reference to its Swift owner, taken in
/// `init` and given back in the close callback, where the handle's memory is freed. So an open
/// handle keeps its owner alive (like libuv, you must `close()` what you open) and nothing is
/// freed while libuv may still touch it.
public class LoopHandle {
    public let loop: EventLoop
    let handle: UnsafeMutablePointer<uv_handle_t>
    private var closeHandlers: [() -> Void] = []

    /// Takes ownership of freshly allocated, *initialised* handle memory.
    init(loop: EventLoop, handle: UnsafeMutableRawPointer) {
        self.loop = loop
        self.handle = handle.assumingMemoryBound(to: uv_handle_t.self)
        self.handle.pointee.data = Unmanaged.passRetained(self).toOpaque()
    }

    /// Whether `close()` has been called.
    public var isClosing: Bool { uv_is_closing(handle) != 0 }

    /// Closes the handle; `onClose` handlers run from the close callback, once.
    public func close() { close(reset: false) }

    /// Closes the handle; with `reset`, a TCP handle closes with an RST (`uv_tcp_close_reset`): the
    /// kernel drops what the peer has not acknowledged instead of delivering it later.
    func close(reset: Bool) {
        loop.assertInLoop()
        guard uv_is_closing(handle) == 0 else { return }
        willClose()
        if reset, handle.pointee.type == UV_TCP,
            uv_tcp_close_reset(UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_tcp_t.self), onHandleClosed)
                == 0
        {
            return
        }
        uv_close(handle, onHandleClosed)
    }

    /// Registers work to do once the handle is closed.
    public func onClose(_ body: @escaping () -> Void) { closeHandlers.append(body) }

    /// A handle that is unref'd does not keep `EventLoop.run()` going by itself.
    public func unref() { uv_unref(handle) }
    public func ref() { uv_ref(handle) }

    /// Subclasses stop their work here (called just before `uv_close`).
    func willClose() {}

    /// Subclasses release their buffers and callbacks here (called from the close callback).
    func didClose() {}

    fileprivate func finishClose() {
        didClose()
        let handlers = closeHandlers
        closeHandlers = []
        for h in handlers { h() }
    }

    /// Rebuilds the owner of a handle inside a C callback (no retain change).
    static func owner<T: LoopHandle>(_ raw: UnsafeMutableRawPointer?, as: T.Type) -> T {
        Unmanaged<T>.fromOpaque(raw!.assumingMemoryBound(to: uv_handle_t.self).pointee.data).takeUnretainedValue()
    }
}

private func onHandleClosed(_ handle: UnsafeMutablePointer<uv_handle_t>?) {
    let owner = Unmanaged<LoopHandle>.fromOpaque(handle!.pointee.data).takeRetainedValue()
    owner.finishClose()
    UnsafeMutableRawPointer(handle!).deallocate()
}

/// Allocates storage for a libuv handle and initialises it with `initialize` (`uv_timer_init`
/// and the like, named by `operation`); on failure frees the storage and throws.
func initializedHandle<T>(
    _ type: T.Type, _ operation: String, _ initialize: (UnsafeMutablePointer<T>) -> Int32
) throws(UVError) -> UnsafeMutablePointer<T> {
    let handle = UnsafeMutablePointer<T>.allocate(capacity: 1)
    let rc = initialize(handle)
    if rc < 0 {
        handle.deallocate()
        throw UVError(code: rc, operation: operation)
    }
    return handle
}
