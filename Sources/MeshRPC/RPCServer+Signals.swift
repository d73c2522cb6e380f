// RPCServer+Signals: SIGINT/SIGTERM start a graceful drain, the way every service stops.

import Logging
public import MeshLoop

extension RPCServer {
    /// Drains the server on the first SIGINT or SIGTERM (grace `graceMs`), then runs `completion`
    /// and releases the signal watchers, so `loop.run()` returns once everything is closed.
    /// A second signal during the drain closes at once.
    public func stopOnSignals(graceMs: UInt64 = 10_000, _ completion: @escaping () -> Void = {}) throws(UVError) {
        var watchers: [SignalWatcher] = []
        var signalled = false
        let handler: (Int32) -> Void = { [unowned self] signum in
            if signalled {
                self.logger.warning("second signal: stopping now", metadata: ["signal": "\(signum)"])
                return self.shutdownNow()
            }
            signalled = true
            self.logger.notice(
                "signal received: draining", metadata: ["signal": "\(signum)", "grace_ms": "\(graceMs)"])
            self.shutdown(graceMs: graceMs) {
                for w in watchers { w.close() }
                completion()
            }
        }
        for signum in [SignalWatcher.interrupt, SignalWatcher.terminate] {
            let w = try SignalWatcher(loop: loop, signal: signum, handler)
            w.unref()  // signals alone do not keep the loop running
            watchers.append(w)
        }
    }
}
