// Backoff: exponential delays with jitter, for reconnects.

/// Exponential backoff: `initialMs × multiplier^(attempt-1)`, capped at `maxMs`, with the upper half
/// jittered so that many clients of a restarted server do not reconnect in lockstep.
public struct Backoff: Sendable, Hashable {
    public var initialMs: UInt64
    public var maxMs: UInt64
    public var multiplier: Double

    public init(initialMs: UInt64 = 100, maxMs: UInt64 = 5_000, multiplier: Double = 2) {
        self.initialMs = initialMs
        self.maxMs = maxMs
        self.multiplier = multiplier
    }

    /// The un-jittered delay before attempt `attempt` (1-based).
    public func ceilingMs(attempt: Int) -> UInt64 {
        guard attempt > 1 else { return min(initialMs, maxMs) }
        var d = Double(initialMs)
        for _ in 1..<min(attempt, 64) {
            d *= multiplier
            if d >= Double(maxMs) { return maxMs }
        }
        return min(UInt64(d), maxMs)
    }

    /// The delay before attempt `attempt`: uniformly in [ceiling/2, ceiling].
    public func delayMs<G: RandomNumberGenerator>(attempt: Int, using rng: inout G) -> UInt64 {
        let c = ceilingMs(attempt: attempt)
        return c / 2 + UInt64.random(in: 0...(c - c / 2), using: &rng)
    }

    public func delayMs(attempt: Int) -> UInt64 {
        var rng = SystemRandomNumberGenerator()
        return delayMs(attempt: attempt, using: &rng)
    }
}
