// HiredisLoopAdapter: hiredis's event hooks driven by a MeshLoop poll watcher and idle handle.

internal import CHiredis
import MeshLoop

/// Drives a hiredis context from a `PollWatcher`.
///
/// hiredis 0.14's own libuv adapter (`redisLibuvAttach`) drops poll errors: on a refused connect or
/// a reset socket libuv reports an error status, the adapter returns without telling hiredis, and
/// the connection hangs forever. This adapter hands errors to hiredis as readiness (as hiredis 1.x
/// does), so hiredis reads the socket error and calls back.
///
/// Writes: hiredis asks for writability (`addWrite`) after every command it queues. Waiting for
/// epoll to say so costs two `epoll_ctl` calls and a loop turn per batch, for a socket that is
/// nearly always writable; instead, once connected, the queued commands are written by an idle
/// handle on the next loop turn — every command of the turn in one `write` — and only a write
/// that could not finish waits for writability. (While connecting, `addWrite` is how
/// hiredis learns that `connect` finished, so it goes to epoll as usual.)
///
/// Ownership: `ev.data` holds one retained adapter, given back in hiredis's `cleanup` callback,
/// which also clears `context` so a pending poll or idle callback never touches a freed context.
final class HiredisLoopAdapter {
    var context: UnsafeMutablePointer<redisAsyncContext>?
    var watcher: PollWatcher?
    var flusher: LoopIdle?
    var reading = false
    var writing = false
    /// Inside `flush()`: an `addWrite` now means hiredis could not write everything.
    private var flushing = false

    static func attach(_ ac: UnsafeMutablePointer<redisAsyncContext>, loop: EventLoop) throws(UVError) {
        let adapter = HiredisLoopAdapter()
        adapter.context = ac
        adapter.watcher = try PollWatcher(loop: loop, socket: ac.pointee.c.fd) { [adapter] readable, writable, _ in
            if readable, let ac = adapter.context { redisAsyncHandleRead(ac) }
            if writable, let ac = adapter.context { redisAsyncHandleWrite(ac) }
        }
        do {
            adapter.flusher = try LoopIdle(loop: loop)
        } catch {
            adapter.watcher?.close()
            throw error
        }
        ac.pointee.ev.data = Unmanaged.passRetained(adapter).toOpaque()
        ac.pointee.ev.addRead = { data in HiredisLoopAdapter.from(data).set(reading: true) }
        ac.pointee.ev.delRead = { data in HiredisLoopAdapter.from(data).set(reading: false) }
        ac.pointee.ev.addWrite = { data in HiredisLoopAdapter.from(data).wantWrite() }
        ac.pointee.ev.delWrite = { data in HiredisLoopAdapter.from(data).set(writing: false) }
        ac.pointee.ev.cleanup = { data in
            let adapter = Unmanaged<HiredisLoopAdapter>.fromOpaque(data!).takeRetainedValue()
            adapter.context = nil
            adapter.watcher?.close()
            adapter.watcher = nil
            adapter.flusher?.close()
            adapter.flusher = nil
        }
    }

    private func wantWrite() {
        guard let ac = context, ac.pointee.c.flags & REDIS_CONNECTED != 0, !flushing, let flusher else {
            return set(writing: true)
        }
        flusher.runOnce { [unowned self] in self.flush() }
    }

    private func flush() {
        guard let ac = context else { return }
        flushing = true
        redisAsyncHandleWrite(ac)  // may free the context (a write error): `cleanup` clears it
        flushing = false
    }

    static func from(_ data: UnsafeMutableRawPointer?) -> HiredisLoopAdapter {
        Unmanaged<HiredisLoopAdapter>.fromOpaque(data!).takeUnretainedValue()
    }

    func set(reading: Bool? = nil, writing: Bool? = nil) {
        if let reading { self.reading = reading }
        if let writing { self.writing = writing }
        watcher?.watch(readable: self.reading, writable: self.writing)
    }
}
