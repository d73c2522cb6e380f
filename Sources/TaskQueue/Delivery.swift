// Delivery: a task handed to the worker's processor, and the events a consumer reports.

public import TaskPipeline

/// A task handed to the processor.
public struct Delivery: Sendable, Hashable {
    /// The stream entry id.
    public var entry: String
    public var taskID: String
    public var message: String
    /// 1-based, counting attempts whose worker died.
    public var attempt: Int
    /// When the attempt started (`EventLoop.hrtimeNs()`).
    public var startedNs: UInt64 = 0
}

/// What happened to a task, for logs and counters.
public enum ConsumerEvent: Sendable {
    case started(Delivery)
    case succeeded(Delivery)
    case retrying(Delivery, delayMs: UInt64, error: String)
    /// No service took the attempt: the task goes back with its attempt not counted.
    case postponed(Delivery, delayMs: UInt64, error: String)
    case failed(Delivery, error: String)
    /// Failed and dead-lettered without running (delivered too often, or out of attempts after crashes).
    case poisoned(taskID: String, entry: String, error: String)
    /// Another worker finished it first, or it was gone: nothing changed.
    case skipped(taskID: String, entry: String, reason: String)
    /// Entries taken over from workers whose lease ran out.
    case reclaimed(count: Int)
    /// Entries still running here that another consumer took over (this worker's lease ran out:
    /// it was stalled, or cut off from Redis). The attempt goes on; whichever finishes first wins.
    case leasesLost(entries: [String])
    /// A Redis command failed; the consumer goes on (the entry stays pending and is reclaimed).
    case redisProblem(String)
}

extension AttemptOutcome {
    /// The error text of a failed attempt ("" for a success).
    var errorText: String {
        switch self {
        case .success: ""
        case .transient(let e), .permanent(let e), .unprocessed(let e): e
        }
    }
}
