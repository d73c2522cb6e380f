// RetryPolicy: what the worker does after each attempt — done, retry later, or give up.

/// How an attempt ended, as the worker saw it.
public enum AttemptOutcome: Sendable, Hashable {
    /// Done: the result JSON to store.
    case success(result: [UInt8])
    /// A failure that may pass: UNAVAILABLE, DEADLINE_EXCEEDED, a lost connection, a report-disk error.
    case transient(String)
    /// A failure that will not pass on retry: INVALID_ARGUMENT and the like.
    case permanent(String)
    /// No live service took the call (none reachable, or refused "not processed"): an outage of a
    /// dependency, not the task's fault — the attempt does not count.
    case unprocessed(String)
}

/// The worker's decision for a task after an attempt.
public enum RetryDecision: Sendable, Hashable {
    case succeed
    /// Try again after `delayMs` (the task leaves the pending list meanwhile).
    case retry(delayMs: UInt64)
    /// Give up: FAILURE with this error, and a copy to the dead-letter stream.
    case fail(error: String)
    /// Put the task back with its attempt not counted, to run after `delayMs`.
    case postpone(delayMs: UInt64)
}

/// Exponential backoff with full jitter, a cap on attempts, and a hard cap on deliveries.
///
/// Defaults: 12 attempts in all, 2 s base, ×3, 30 min cap (the n-th retry waits a uniform random
/// time in [0, min(30 min, 2 s × 3^(n−1))]): about 78 minutes in expectation from the first
/// failure to the last attempt, so an incident of an hour (a dependency down, a bad deploy rolled
/// back) does not turn tasks into failures, while the first retries still come within seconds.
/// A delivery the worker never finished (it crashed) counts as an attempt; past `maxDeliveries`
/// the task is poison and goes to the dead-letter stream.
public struct RetryPolicy: Sendable, Hashable {
    public var maxAttempts = 12
    public var baseDelayMs: UInt64 = 2_000
    public var multiplier: Double = 3
    public var maxDelayMs: UInt64 = 1_800_000
    public var maxDeliveries = 20
    /// The ceiling of the wait before a task whose attempt was not processed runs again.
    public var postponeMs: UInt64 = 1_000

    public init() {}

    /// The expected wait from the first failure to the last attempt: with full jitter each wait
    /// averages half its ceiling.
    public var expectedScheduleMs: UInt64 {
        (1..<max(1, maxAttempts)).reduce(0) { $0 + ceilingMs(retry: $1) / 2 }
    }

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
        case .unprocessed:
            // Soon, but not at once: a service refusing calls unprocessed (over its limit) would
            // otherwise get the same call back in a hot loop.
            return .postpone(delayMs: UInt64.random(in: postponeMs / 2...postponeMs, using: &rng))
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
