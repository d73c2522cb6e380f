// OutageGuard: while no alert-service can take a call, the worker takes no work and counts no attempt.

public import Logging
public import MeshLoop
public import MeshRPC
import TaskPipeline
public import TaskQueue

/// Pauses the consumer when no alert-service can take a call — every endpoint down, refusing
/// connections, failing its handshake or draining — and resumes it when one can. An outage of a
/// dependency is not the task's fault: attempts that no service took come back `unprocessed` and
/// are put back uncounted (`TaskScripts.postpone`), and nothing new is read meanwhile, so tasks
/// wait in the stream instead of burning their retries (Celery and Sidekiq users pause their
/// consumers by hand for this).
///
/// The RPC client keeps reconnecting on its own (the worker gives it a backoff capped at 1 s,
/// jittered), so probing needs no calls; the guard resumes on the first endpoint that is ready.
/// It logs one line when the outage starts and one when it ends, never one per task.
public final class OutageGuard {
    let client: RPCClient
    let logger: Logger
    /// The consumer to pause (set once it exists: it is built with `guarding(_:)`'s processor).
    public weak var consumer: TaskConsumer?
    private var poll: LoopTimer?
    private var postponedAtStart: UInt64 = 0
    private var retriedAtStart: UInt64 = 0

    public init(loop: EventLoop, client: RPCClient, logger: Logger) throws(UVError) {
        self.client = client
        self.logger = logger
        poll = try LoopTimer(loop: loop)
        poll?.unref()
    }

    /// Why the worker is not taking work, or nil.
    public var reason: String? { consumer?.pause?.reason }

    /// Wraps the processor: an unprocessed attempt while no endpoint can take a call starts an outage.
    public func guarding(_ processor: @escaping TaskConsumer.Processor) -> TaskConsumer.Processor {
        { [weak self] delivery, done in
            processor(delivery) { outcome in
                if case .unprocessed(let why) = outcome { self?.unreachable(why) }
                done(outcome)
            }
        }
    }

    /// Feed the RPC client's connection events here.
    public func clientEvent(_ event: ClientEvent) {
        switch event {
        case .ready:
            if client.canTakeCall { reachable() }
        case .backoff(_, let why):
            unreachable(why)
        case .connecting, .connected, .secured, .disconnected:
            break
        }
    }

    private func unreachable(_ why: String) {
        guard let consumer, consumer.pause == nil, consumer.isRunning, !client.canTakeCall else { return }
        let reason = "no alert-service can take a call: \(why)"
        consumer.pause(reason: reason)
        postponedAtStart = consumer.stats.postponed
        retriedAtStart = consumer.stats.retried
        logger.warning(
            "alert-service outage: taking no tasks until one is back; attempts meanwhile are not counted",
            metadata: ["reason": "\(why)", "tasks_in_flight": "\(consumer.inFlightCount)"])
        // Events say when an endpoint is ready; the poll covers one that stops draining quietly.
        poll?.start(afterMs: 250, repeatMs: 250) { [weak self] in
            guard let self else { return }
            if self.client.canTakeCall { self.reachable() }
        }
    }

    private func reachable() {
        guard let consumer, consumer.pause != nil else { return }
        poll?.stop()
        let seconds = Double(consumer.resume()) / 1_000
        logger.notice(
            "alert-service outage over: taking tasks again",
            metadata: [
                "paused_s": "\(Self.oneDecimal(seconds))",
                "postponed": "\(consumer.stats.postponed - postponedAtStart)",
                "retried": "\(consumer.stats.retried - retriedAtStart)",
            ])
    }

    static func oneDecimal(_ x: Double) -> String {
        let tenths = Int((x * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    public func close() {
        poll?.close()
        poll = nil
    }
}
