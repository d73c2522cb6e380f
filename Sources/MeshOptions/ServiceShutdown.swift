// ServiceShutdown: how every service runs and stops — signal, stop accepting, grace period,
// ordered close, logs flushed.

public import Logging
public import MeshLog
public import MeshLoop

/// The one way an alertmesh service runs its loop and stops.
///
/// 1. `run()` turns the loop until SIGTERM or SIGINT;
/// 2. on the first signal, `stopAccepting` runs (listeners close, reading stops);
/// 3. `drain` has the grace period to finish what is in flight and calls back; if it has not
///    called back by the grace period plus `marginMs` (for the last replies), the stop goes on;
/// 4. `close` closes what is left, in order, and the loop turns until every handle is closed;
/// 5. the "stopped" line is logged and the logs are flushed, and `run()` returns: exit status 0.
///
/// A second signal runs `hurry` (if given: drop the rest of the grace period) and is otherwise
/// only logged.
///
/// ```swift
/// let shutdown = ServiceShutdown(loop: loop, logger: logger, shipper: shipper, graceMs: 5_000)
/// shutdown.stopAccepting = { server.close() }
/// shutdown.drain = { _, done in shutdown.poll(until: { server.isDrained }, done) }
/// shutdown.close = { redis.close() }
/// try shutdown.run()
/// ```
public final class ServiceShutdown {
    /// Finishes the work in flight within `graceMs` and calls `done` (once).
    public typealias Drain = (_ graceMs: UInt64, _ done: @escaping () -> Void) -> Void

    public let loop: EventLoop
    public let graceMs: UInt64
    /// Time past the grace period for the drain's own last steps (handing tasks back, replies).
    public var marginMs: UInt64 = 2_000
    public var stopAccepting: () -> Void = {}
    public var drain: Drain = { _, done in done() }
    public var close: () -> Void = {}
    /// Runs on a second signal during the drain.
    public var hurry: (() -> Void)?
    /// Metadata of the "stopped" line (figures worth keeping: tasks done, requests served).
    public var summary: () -> Logger.Metadata = { [:] }
    /// Whether a signal has started the stop.
    public private(set) var isStopping = false

    private let logger: Logger
    private let shipper: LogShipper?
    private var signals: [SignalWatcher] = []
    private var backstop: LoopTimer?
    private var pollTimer: LoopTimer?
    private var closed = false

    public init(loop: EventLoop, logger: Logger, shipper: LogShipper?, graceMs: UInt64) {
        self.loop = loop
        self.logger = logger
        self.shipper = shipper
        self.graceMs = graceMs
    }

    /// Runs the loop until the service has stopped, then flushes the logs.
    public func run() throws(UVError) {
        for signum in [SignalWatcher.terminate, SignalWatcher.interrupt] {
            let watcher = try SignalWatcher(loop: loop, signal: signum) { [unowned self] in self.signalled($0) }
            watcher.unref()  // signals alone do not keep the loop running
            signals.append(watcher)
        }
        backstop = try LoopTimer(loop: loop)
        loop.run()
        for watcher in signals { watcher.close() }
        signals = []
        backstop?.close()
        backstop = nil
        loop.runUntilHandlesClosed()
        if loop.openHandleCount > 0 {
            logger.warning("handles still open after closing", metadata: ["handles": "\(loop.openHandleCount)"])
        }
        logger.notice("stopped", metadata: summary())
        shipper?.flush()
    }

    /// Begins the stop as a signal would (tests, or a fatal condition of the service's own).
    public func stop(signal: Int32 = SignalWatcher.terminate) { signalled(signal) }

    private func signalled(_ signum: Int32) {
        guard !isStopping else {
            logger.warning("second signal during the stop", metadata: ["signal": "\(signum)"])
            hurry?()
            return
        }
        isStopping = true
        logger.notice("stopping", metadata: ["signal": "\(signum)", "grace_ms": "\(graceMs)"])
        stopAccepting()
        backstop?.start(afterMs: graceMs + marginMs) { [unowned self] in
            self.logger.warning("grace period over: closing what is left")
            self.finish()
        }
        drain(graceMs) { [weak self] in self?.finish() }
    }

    private func finish() {
        guard !closed else { return }
        closed = true
        backstop?.stop()
        pollTimer?.close()
        pollTimer = nil
        close()
        loop.stop()
    }

    /// Calls `done` once `condition` holds, checking every `everyMs` — for servers that know
    /// when they are drained but do not say so. The check ends with the stop in any case.
    public func poll(everyMs: UInt64 = 10, until condition: @escaping () -> Bool, _ done: @escaping () -> Void) {
        guard !condition() else { return done() }
        guard let timer = try? LoopTimer(loop: loop) else { return done() }
        pollTimer = timer
        timer.start(afterMs: everyMs, repeatMs: everyMs) { [weak self] in
            guard condition() else { return }
            self?.pollTimer?.close()
            self?.pollTimer = nil
            done()
        }
    }
}
