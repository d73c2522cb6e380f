// WorkerLog: one log line per thing that happens to a task (never its message text).

public import Logging
import MeshLoop
public import TaskQueue

public enum WorkerLog {
    /// Milliseconds since the attempt started, with one decimal.
    static func ms(since d: Delivery) -> String {
        let us = (EventLoop.hrtimeNs() &- d.startedNs) / 1_000
        return "\(us / 1_000).\(us % 1_000 / 100)"
    }

    /// - Parameter outage: an outage is under way and was logged once: attempts it cut off are
    ///   not logged one by one.
    public static func log(_ event: ConsumerEvent, _ logger: Logger, outage: Bool = false) {
        switch event {
        case .started(let d):
            logger.debug("task started", metadata: ["task_id": "\(d.taskID)", "attempt": "\(d.attempt)"])
        case .succeeded(let d):
            logger.info(
                "task succeeded",
                metadata: ["task_id": "\(d.taskID)", "attempt": "\(d.attempt)", "duration_ms": "\(ms(since: d))"])
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
            logger.warning("redis: \(text)")
        }
    }
}
