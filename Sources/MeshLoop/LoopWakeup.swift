// LoopWakeup: the only way into a loop from another thread.

internal import CLibUV
import Synchronization

/// Runs jobs submitted from any thread on the loop's thread (`uv_async_t` + a locked queue).
///
/// This is the one type in MeshLoop that other threads may touch, and only through `submit(_:)`;
/// that is why it alone is `@unchecked Sendable`.
public final class LoopWakeup: LoopHandle, @unchecked Sendable {
    private struct State {
        var jobs: [@Sendable () -> Void] = []
        var open = true
    }
    private let state = Mutex(State())

    public init(loop: EventLoop) throws(UVError) {
        let a = try initializedHandle(uv_async_t.self, "uv_async_init") {
            uv_async_init(loop.uv, $0) { LoopHandle.owner($0, as: LoopWakeup.self).drain() }
        }
        super.init(loop: loop, handle: a)
    }

    /// Queues `job` to run on the loop thread. Safe from any thread; jobs submitted after close are dropped.
    /// - Returns: false when the wakeup is already closed and the job was dropped.
    @discardableResult
    public func submit(_ job: @escaping @Sendable () -> Void) -> Bool {
        let async = UnsafeMutableRawPointer(handle).assumingMemoryBound(to: uv_async_t.self)
        return state.withLock { s in
            // Sending under the lock keeps the handle's memory alive: close flips `open` under it first.
            guard s.open else { return false }
            s.jobs.append(job)
            uv_async_send(async)
            return true
        }
    }

    private func drain() {
        let jobs = state.withLock { s in
            let jobs = s.jobs
            s.jobs.removeAll()
            return jobs
        }
        for job in jobs { job() }
    }

    override func willClose() { state.withLock { $0.open = false } }
    override func didClose() { state.withLock { $0.jobs.removeAll() } }
}
