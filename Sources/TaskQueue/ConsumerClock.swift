// ConsumerClock: where the consumer's timers come from — the loop's, or a test's advanced by hand.

public import MeshLoop

/// A timer the consumer schedules one kind of work with.
public protocol ConsumerTimer: AnyObject {
    /// Runs `body` after `afterMs`, then every `repeatMs` (0: once); a started timer is restarted.
    func start(afterMs: UInt64, repeatMs: UInt64, _ body: @escaping () -> Void)
    func stop()
    /// Stops it for good.
    func close()
    var isActive: Bool { get }
}

extension ConsumerTimer {
    func start(afterMs: UInt64, _ body: @escaping () -> Void) { start(afterMs: afterMs, repeatMs: 0, body) }
}

/// The consumer's source of time. Leases, reclaiming, promotion of retries and the shutdown grace
/// are all timers; a test hands in a clock it advances itself, so it fires them when it chooses
/// instead of sleeping on the wall clock.
public protocol ConsumerClock: AnyObject {
    /// Milliseconds on this clock's own scale (only differences mean anything).
    var nowMs: UInt64 { get }
    func makeTimer() throws(UVError) -> any ConsumerTimer
}

extension LoopTimer: ConsumerTimer {}

/// The production clock: libuv timers on the consumer's loop.
public final class LoopClock: ConsumerClock {
    public let loop: EventLoop
    public init(loop: EventLoop) { self.loop = loop }
    public var nowMs: UInt64 { loop.nowMs }
    public func makeTimer() throws(UVError) -> any ConsumerTimer { try LoopTimer(loop: loop) }
}
