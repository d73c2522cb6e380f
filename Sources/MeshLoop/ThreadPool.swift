// ThreadPool: blocking work (file writes, fsync) on libuv's worker threads, results on the loop.

internal import CLibUV

/// Runs work that would block the loop (disk I/O) on libuv's thread pool (`uv_queue_work`).
public enum ThreadPool {
    /// Runs `work` on a pool thread, then `done` with its result on the loop's thread.
    public static func run<T: Sendable>(
        on loop: EventLoop, _ work: @escaping @Sendable () -> T, then done: @escaping (T) -> Void
    ) {
        let job = TypedWork(work: work, done: done)
        let req = UnsafeMutablePointer<uv_work_t>.allocate(capacity: 1)
        req.pointee.data = Unmanaged.passRetained(job as PoolWork).toOpaque()
        let rc = uv_queue_work(
            loop.uv, req,
            { req in Unmanaged<PoolWork>.fromOpaque(req!.pointee.data).takeUnretainedValue().execute() },
            { req, _ in
                let job = Unmanaged<PoolWork>.fromOpaque(req!.pointee.data).takeRetainedValue()
                req!.deallocate()
                job.complete()
            })
        if rc < 0 {
            // Cannot queue (never expected): run inline rather than lose the work.
            Unmanaged<PoolWork>.fromOpaque(req.pointee.data).release()
            req.deallocate()
            job.execute()
            job.complete()
        }
    }
}

/// Crosses threads once each way: `execute` on a pool thread, then `complete` on the loop, with
/// libuv ordering the two. That hand-off is why it is `@unchecked Sendable`.
private class PoolWork: @unchecked Sendable {
    func execute() {}
    func complete() {}
}

private final class TypedWork<T: Sendable>: PoolWork, @unchecked Sendable {
    let work: @Sendable () -> T
    let done: (T) -> Void
    var result: T?

    init(work: @escaping @Sendable () -> T, done: @escaping (T) -> Void) {
        self.work = work
        self.done = done
    }

    override func execute() { result = work() }
    override func complete() { done(result!) }
}

extension ThreadPool {
    /// `syncfs(2)` on the filesystem holding `fd`: commits all of its dirty data and metadata.
    /// Blocking — for work on the pool. Returns 0, or -1 with `errno` set (Linux ≥ 5.8 reports
    /// writeback errors here).
    public static func syncFileSystem(of fd: Int32) -> Int32 { CLibUV_syncfs(fd) }
}
