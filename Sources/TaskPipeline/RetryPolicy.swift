// RetryPolicy: what the worker does after each attempt — done, retry later, or give up.

/// How an attempt ended, as the worker saw it.
public enum AttemptOutcome: Sendable, Hashable {
    /// Done: the result JSON to store.
    case success(result: [UInt8])
    /// A failure that may pass: UNAVAILABLE, DEADLINE_EXCEEDED, a lost connection, a report-disk error.
    case transient(String)
    /// A failure that will not pass on retry: INVALID_ARGUMENT and the like.
    case permanent(String)
}

/// The worker's decision for a task after an attempt.
public enum RetryDecision: Sendable, Hashable {
    case succeed
    /// Try again after `delayMs` (the task leaves the pending list meanwhile).
    case retry(delayMs: UInt64)
    /// Give up: FAILURE with this error, and a copy to the dead-letter stream.
    case fail(error: String)
}

/// Exponential backoff with full jitter, a cap on attempts, and a hard cap on deliveries.
///
/// Defaults: 5 attempts in all, 1 s base, ×2, 30 s cap (the n-th retry waits a uniform random time
/// in [0, min(30 s, 1 s × 2^(n−1))]). A delivery the worker never finished (it crashed) counts as an
/// attempt; past `maxDeliveries` the task is poison and goes to the dead-letter stream.
public struct RetryPolicy: Sendable, Hashable {
    public var maxAttempts = 5
    public var baseDelayMs: UInt64 = 1_000
    public var multiplier: Double = 2
    public var maxDelayMs: UInt64 = 30_000
    public var maxDeliveries = 10

    public init() {}

    /// The ceiling of the wait before retry number `retry` (1-based).
    public func ceilingMs(retry: Int) -> UInt64 {
        var d = Double(baseDelayMs)
        for _ in 1..<max(1, retry) {
            d *= multiplier
            if d >= Double(maxDelayMs) { return maxDelayMs }
        }
        return min(UInt64(d), maxDelayMs)
    }

    /// Decides after attempt number `attempt` (1-based, counting crashed deliveries).
    public func decide<G: RandomNumberGenerator>(after outcome: AttemptOutcome, attempt: Int, using rng: inout G)
        -> RetryDecision
    {
        switch outcome {
        case .success:
            return .succeed
        case .permanent(let error):
            return .fail(error: error)
        case .transient(let error):
            guard attempt < maxAttempts else {
                return .fail(error: "gave up after \(attempt) attempts: \(error)")
            }
            return .retry(delayMs: UInt64.random(in: 0...ceilingMs(retry: attempt), using: &rng))
        }
    }

    public func decide(after outcome: AttemptOutcome, attempt: Int) -> RetryDecision {
        var rng = SystemRandomNumberGenerator()
        return decide(after: outcome, attempt: attempt, using: &rng)
    }

    /// Whether a delivery that is about to start should instead be dead-lettered as poison.
    public func isPoison(deliveries: Int) -> Bool { deliveries > maxDeliveries }
}
