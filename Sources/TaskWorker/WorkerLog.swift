// WorkerLog: one log line per thing that happens to a task (never its message text).

public import Logging
import MeshLoop
public import TaskQueue

public final class WorkerLog {
    /// At most one line about Redis problems this often: while Redis is away or loading its data
    /// after a restart, every read, promote, claim and renewal fails — four or more a second; the
    /// soak's 30 s AOF load wrote 350 such lines per worker. The rest are counted on the next line
    /// (and all in `redis_problems_total`).
    public static let redisProblemIntervalMs: UInt64 = 5_000

    let logger: Logger
    private var redisQuietUntilMs: UInt64 = 0
    private var redisSuppressed = 0

    public init(logger: Logger) { self.logger = logger }

    /// Milliseconds since the attempt started, with one decimal.
    static func ms(since d: Delivery) -> String {
        let us = (EventLoop.hrtimeNs() &- d.startedNs) / 1_000
        return "\(us / 1_000).\(us % 1_000 / 100)"
    }

    /// - Parameter outage: an outage is under way and was logged once: attempts it cut off are
    ///   not logged one by one.
    public func log(_ event: ConsumerEvent, outage: Bool = false) {
        switch event {
        case .started(let d):
            logger.debug("task started", metadata: ["task_id": "\(d.taskID)", "attempt": "\(d.attempt)"])
        case .succeeded(let d):
            logger.info(
                "task succeeded",
                metadata: ["task_id": "\(d.taskID)", "attempt": "\(d.attempt)", "duration_ms": "\(Self.ms(since: d))"])
        case .retrying(let d, let delayMs, let error):
            logger.log(
                level: outage ? .debug : .warning,
                "task will be retried",
                metadata: [
                    "task_id": "\(d.taskID)", "attempt": "\(d.attempt)", "delay_ms": "\(delayMs)", "error": "\(error)",
                ])
        case .postponed(let d, let delayMs, let error):
            logger.debug(
                "task put back; attempt not counted",
                metadata: [
                    "task_id": "\(d.taskID)", "attempt": "\(d.attempt)", "delay_ms": "\(delayMs)", "error": "\(error)",
                ])
        case .failed(let d, let error):
            logger.error(
                "task failed; dead-lettered",
                metadata: ["task_id": "\(d.taskID)", "attempt": "\(d.attempt)", "error": "\(error)"])
        case .poisoned(let taskID, let entry, let error):
            logger.error(
                "task dead-lettered without running",
                metadata: ["task_id": "\(taskID)", "entry": "\(entry)", "error": "\(error)"])
        case .skipped(let taskID, let entry, let reason):
            logger.info("task skipped", metadata: ["task_id": "\(taskID)", "entry": "\(entry)", "reason": "\(reason)"])
        case .reclaimed(let count):
            logger.notice(
                "took over tasks of a worker that stopped renewing its lease", metadata: ["count": "\(count)"])
        case .leasesLost(let entries):
            logger.warning(
                "lost the lease on tasks still running here; another worker took them over",
                metadata: ["count": "\(entries.count)", "entry": "\(entries.joined(separator: ","))"])
        case .redisProblem(let text):
            let nowMs = EventLoop.hrtimeNs() / 1_000_000
            guard nowMs >= redisQuietUntilMs else {
                redisSuppressed += 1
                return
            }
            redisQuietUntilMs = nowMs + Self.redisProblemIntervalMs
            var metadata: Logger.Metadata = [:]
            if redisSuppressed > 0 { metadata["not_logged_since_last"] = "\(redisSuppressed)" }
            redisSuppressed = 0
            logger.warning("redis: \(text)", metadata: metadata)
        }
    }
}
