// worker: consumes the task stream and runs each task through an alert-service (thin: options + wiring).

import AlertContract
import Alerts
import ArgumentParser
import Foundation
import Logging
import MeshLoop
import MeshOptions
import MeshRPC
import MeshRedis
import TaskPipeline
import TaskQueue
import TaskWorker

@main
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Run queued tasks: read the Redis stream as a consumer group, call alert-service, store results.",
        discussion: """
            Start several to scale out: each gets a unique consumer name. Tasks of a worker that dies \
            are taken over by the others once their lease runs out. With --listen the worker also \
            serves _sys health and stats, and alertmesh.v1.DeadLetters (List, Redrive), over RPC. \
            Every option can also be set as ALERTMESH_<OPTION>.
            """)

    @OptionGroup var common: ServiceOptions
    @OptionGroup var logging: LoggingOptions
    @OptionGroup var tls: TLSOptions
    @OptionGroup var loopOptions: LoopOptions

    @OptionGroup var redis: RedisOptions

    @Option(
        help: ArgumentHelp(
            "An alert-service to call: unix:/path.sock or tcp://host:port (repeatable; default unix:DATA_DIR/alert-service.sock).",
            valueName: "addr"))
    var alertEndpoint: [String] = []

    @Option(
        help: ArgumentHelp(
            "Tasks in flight at once.",
            discussion: "More in flight means bigger batches per XREADGROUP and per script call (docs/benchmarks.md "
                + "has the figures); each task in flight holds its message in memory (see --inflight-mib)."))
    var concurrency: Int = 512

    @Option(
        help: ArgumentHelp(
            "MiB of messages in flight before reads pause.",
            discussion: "No new read while the messages of the tasks in flight add up to this much; one read "
                + "starts at most 32 tasks beyond it."))
    var inflightMib: Int = 64

    @Option(help: "Deadline of one Analyze call, in ms.")
    var attemptTimeoutMs: UInt64 = 10_000

    @Option(help: "Attempts per task in all (a crashed attempt counts).")
    var maxAttempts: Int = RetryPolicy().maxAttempts

    @Option(help: "First retry delay ceiling, in ms (full jitter).")
    var retryBaseMs: UInt64 = RetryPolicy().baseDelayMs

    @Option(help: "Growth of the retry delay ceiling per attempt.")
    var retryMultiplier: Double = RetryPolicy().multiplier

    @Option(help: "Largest retry delay, in ms.")
    var retryMaxMs: UInt64 = RetryPolicy().maxDelayMs

    @Option(help: "Deliveries after which a task is dead-lettered without running (poison cap).")
    var maxDeliveries: Int = RetryPolicy().maxDeliveries

    @Option(help: "A task idle this long (its worker died) is taken over, in ms.")
    var leaseMs: UInt64 = 60_000

    @Option(help: "How often to look for tasks to take over, in ms.")
    var reclaimIntervalMs: UInt64 = 5_000

    @Option(help: "How long finished tasks stay readable, in seconds.")
    var resultTtl: Int = 86_400

    @Option(help: "Entries kept in the dead-letter stream (approximately).")
    var deadLetterCap: Int = 10_000

    @Option(help: "How long dead letters are kept, in seconds (default 7 days).")
    var deadLetterTtl: Int = 7 * 86_400

    @Option(help: "On SIGTERM/SIGINT, how long tasks in flight may take to finish, in ms.")
    var shutdownGraceMs: UInt64 = 10_000

    static func main() { mainWithEnvironment() }

    func validate() throws {
        for a in alertEndpoint {
            do {
                _ = try Endpoint(parsing: a)
            } catch {
                throw ValidationError("--alert-endpoint: \(error)")
            }
        }
        guard concurrency > 0, concurrency <= 10_000 else { throw ValidationError("--concurrency: 1...10000") }
        guard inflightMib > 0, inflightMib <= 1 << 20 else { throw ValidationError("--inflight-mib: 1...1048576") }
        guard maxAttempts > 0 else { throw ValidationError("--max-attempts: must be positive") }
        guard maxDeliveries >= maxAttempts else {
            throw ValidationError("--max-deliveries: must be at least --max-attempts")
        }
        guard retryMultiplier >= 1, retryMultiplier.isFinite else { throw ValidationError("--retry-multiplier: >= 1") }
        guard retryMaxMs >= retryBaseMs else { throw ValidationError("--retry-max-ms: must be >= --retry-base-ms") }
        guard leaseMs >= 1_000 else { throw ValidationError("--lease-ms: at least 1000") }
        guard attemptTimeoutMs > 0, reclaimIntervalMs > 0 else { throw ValidationError("timeouts must be positive") }
        guard resultTtl > 0, deadLetterCap > 0, deadLetterTtl > 0 else {
            throw ValidationError("--result-ttl, --dead-letter-cap, --dead-letter-ttl: positive")
        }
        try tls.check(common.endpoints, option: "--listen")
        try tls.check(alertEndpoint.compactMap { try? Endpoint(parsing: $0) }, option: "--alert-endpoint")
    }

    func run() throws {
        let redactor = Redactor()
        let shipper = try logging.bootstrap(
            service: "worker", dataDir: common.dataDir, level: common.level, redact: { redactor.redact($0) })
        defer { shipper.shutdown() }
        let logger = Logger(label: "worker")
        let loop = try EventLoop()
        try loopOptions.apply(to: loop)
        let tlsContext = try tls.context()
        let redisService = try redis.service
        let redisConfig = try redis.configuration()
        let commands = RedisClient(loop: loop, service: redisService, configuration: redisConfig)
        let reader = RedisClient(loop: loop, service: redisService, configuration: redisConfig)
        for client in [commands, reader] {
            redis.stopOnConfigurationError(client, program: "worker") { logger.critical("redis: \($0)") }
        }
        commands.onDisconnect = { logger.warning("redis connection lost; reconnecting", metadata: ["error": "\($0)"]) }

        let endpoints =
            try alertEndpoint.isEmpty
            ? [Endpoint.unix(path: common.dataDir + "/alert-service.sock")]
            : alertEndpoint.map { try Endpoint(parsing: $0) }
        let host = ProcessInfo.processInfo.hostName
        let name = "\(host)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
        var clientConfig = RPCClient.Configuration(name: "worker \(name)")
        // While every alert-service is down the worker waits for one (OutageGuard): probe at most
        // a second apart, jittered, so it resumes within a second of the service's return.
        clientConfig.reconnectBackoff = Backoff(initialMs: 100, maxMs: 1_000)
        clientConfig.tls = tlsContext
        clientConfig.expectedPeers = ["alert-service"]
        let client = RPCClient(loop: loop, endpoints: endpoints, configuration: clientConfig)
        let processor = AnalyzeProcessor(client: client, attemptTimeoutMs: attemptTimeoutMs)
        let outage = try OutageGuard(loop: loop, client: client, logger: logger)
        client.onEvent = { _, event in outage.clientEvent(event) }

        var config = TaskConsumer.Configuration(name: name)
        config.concurrency = concurrency
        config.maxMessageBytesInFlight = inflightMib << 20
        config.leaseMs = leaseMs
        config.reclaimIntervalMs = reclaimIntervalMs
        config.resultTTLSeconds = resultTtl
        config.deadLetterCap = deadLetterCap
        config.deadLetterTTLSeconds = deadLetterTtl
        config.policy.maxAttempts = maxAttempts
        config.policy.baseDelayMs = retryBaseMs
        config.policy.multiplier = retryMultiplier
        config.policy.maxDelayMs = retryMaxMs
        config.policy.maxDeliveries = maxDeliveries
        let consumer = TaskConsumer(
            loop: loop, commands: commands, reader: reader, keys: TaskKeys(prefix: redis.prefix), configuration: config,
            processor: outage.guarding { processor.process($0, $1) })
        outage.consumer = consumer
        let workerLog = WorkerLog(logger: logger)
        consumer.onEvent = { workerLog.log($0, outage: outage.reason != nil) }

        // Health and stats over RPC (rpc-probe ADDR health|stats).
        var serverConfig = RPCServer.Configuration(name: "worker")
        serverConfig.tls = tlsContext
        serverConfig.accessPolicy = DeadLetterMethods.accessPolicy
        FileLimit.raise(forConnections: serverConfig.maxConnections, logger: logger)
        let server = try RPCServer(loop: loop, configuration: serverConfig, logger: logger)
        for endpoint in common.endpoints {
            do {
                try server.listen(on: endpoint)
            } catch {
                throw ValidationError("--listen: \(error)")
            }
        }

        // Dead letters to see and re-drive; their messages leave masked, secrets included.
        let masking = Redactor(secrets: true)
        DeadLetterService(deadLetters: consumer.deadLetters, mask: { masking.redact($0) }).register(on: server)

        server.figuresProvider = {
            var figures = shipper.stats.figures().merging(consumer.figures()) { a, _ in a }
            figures["redis_connected"] = commands.isConnected ? 1 : 0
            return figures.merging(commands.stats.figures()) { a, _ in a }
        }
        let hangup = try LoggingOptions.reopenOnHangup(loop: loop, shipper: shipper)
        let shutdown = ServiceShutdown(loop: loop, logger: logger, shipper: shipper, graceMs: shutdownGraceMs)
        // NOT_SERVING, with the reason, while the worker can do nothing: Redis away, no
        // alert-service to call, shutting down; SERVING once it can work again.
        server.setServingStatus(.notServing, reason: "starting")
        let readiness = try LoopTimer(loop: loop)
        readiness.start(afterMs: 0, repeatMs: 250) {
            let why =
                shutdown.isStopping
                ? "shutting down"
                : !(commands.isConnected && reader.isConnected) ? "redis unreachable" : outage.reason
            server.setServingStatus(why == nil ? .serving : .notServing, reason: why ?? "")
        }
        readiness.unref()
        // Stop reading; tasks in flight get the grace period, the rest are handed back.
        shutdown.drain = { grace, done in consumer.stop(graceMs: grace, completion: done) }
        shutdown.close = {
            outage.close()
            client.close()
            server.shutdownNow()
            hangup.close()
            readiness.close()
        }
        shutdown.summary = { ["succeeded": "\(consumer.stats.succeeded)"] }
        try consumer.start()
        client.connect()  // know at once whether an alert-service is there
        logger.notice(
            "worker ready",
            metadata: [
                "consumer": "\(name)", "redis": "\(redisService)",
                "alert_endpoints": "\(endpoints.map(\.description))",
                "concurrency": "\(concurrency)", "inflight_mib": "\(inflightMib)",
            ])
        try shutdown.run()
    }
}
