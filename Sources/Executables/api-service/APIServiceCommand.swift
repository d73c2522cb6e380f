// api-service: the public HTTP API of alertmesh (thin: options + wiring).

import APIService
import Alerts
import ArgumentParser
import FoundationEssentials  // not Foundation: a static binary would carry all of it
import Logging
import MeshHTTP
import MeshLoop
import MeshOptions
import MeshRedis
import TaskQueue

@main
struct APIServiceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api-service",
        abstract: "Accept messages over HTTP (POST /submit), queue them in Redis, answer GET /status/{task_id}.",
        discussion: """
            A 202 means Redis has stored the task; with Redis away, submits get 503 and Retry-After. \
            Every option can also be set as ALERTMESH_<OPTION>; a flag beats the environment.
            """)

    @Option(help: ArgumentHelp("Where to serve HTTP.", valueName: "host:port"))
    var http: String = "127.0.0.1:8080"

    @OptionGroup var redis: RedisOptions

    @Option(help: "Deadline of a Redis command, in ms (past it: 503).")
    var redisTimeoutMs: UInt64 = 2_000

    @Option(help: "Largest request body, in bytes (413 past it).")
    var maxBodyBytes: Int = 1 << 20

    @Option(help: "Largest request line plus headers, in bytes (431 past it).")
    var maxHeaderBytes: Int = 16 << 10

    @Option(help: "Most open client connections (503 past it).")
    var maxConnections: Int = 4_096

    @Option(help: "A request must arrive whole within this many ms of its first byte (408 past it).")
    var requestTimeoutMs: UInt64 = 10_000

    @Option(help: "Idle keep-alive connections are closed after this many ms.")
    var idleTimeoutMs: UInt64 = 60_000

    @Option(help: "How long an Idempotency-Key maps to its task, in seconds.")
    var idempotencyTtl: Int = 86_400

    @Option(
        help: ArgumentHelp(
            "Tasks waiting or in work past which submits get 429 (0: derived from Redis's maxmemory).",
            discussion: "Derived: half of maxmemory over (1 KiB + the mean accepted message size). Submits are "
                + "also shed while Redis's used memory is within max(maxmemory/10, 16 x --max-body-bytes) of "
                + "maxmemory."))
    var maxBacklog: Int64 = 0

    @Option(help: "On SIGTERM/SIGINT, how long requests in flight may take to finish, in ms.")
    var shutdownGraceMs: UInt64 = 5_000

    @Option(
        help: ArgumentHelp(
            "An RPC endpoint of a worker or alert-service whose figures /metrics carries (repeatable).",
            valueName: "addr"))
    var scrape: [String] = []

    @Flag(
        help: ArgumentHelp(
            "Let /monitor re-drive dead letters (a button per dead letter); off, the page only lists them."))
    var monitorAdmin = false

    @Option(
        help: ArgumentHelp(
            "A file of API keys, one per line: /submit and /status then need Authorization: Bearer <key>.",
            discussion: "Keys are 16-256 printable ASCII characters (e.g. openssl rand -hex 32); # starts a comment.",
            valueName: "file"))
    var apiKeysFile: String?

    @Option(
        help: ArgumentHelp(
            "Serve /metrics (and /healthz) on this host:port instead of the public --http listener.",
            valueName: "host:port"))
    var metricsListen: String?

    @Option(help: ArgumentHelp("Directory for the service's state and logs.", valueName: "dir"))
    var dataDir: String = "data"

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: String = "info"

    @OptionGroup var logging: LoggingOptions
    @OptionGroup var tls: TLSOptions
    @OptionGroup var loopOptions: LoopOptions

    static func main() { mainWithEnvironment() }

    func validate() throws {
        try Self.checkHostPort(http, option: "--http")
        guard maxBodyBytes > 0, maxBodyBytes <= 64 << 20 else {
            throw ValidationError("--max-body-bytes: must be between 1 and 67108864")
        }
        guard maxHeaderBytes >= 1024 else { throw ValidationError("--max-header-bytes: must be at least 1024") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections: must be positive") }
        guard requestTimeoutMs > 0, idleTimeoutMs > 0, redisTimeoutMs > 0 else {
            throw ValidationError("timeouts must be positive")
        }
        guard idempotencyTtl > 0 else { throw ValidationError("--idempotency-ttl: must be positive") }
        guard maxBacklog >= 0 else { throw ValidationError("--max-backlog: 0 (derived) or positive") }
        for a in scrape {
            do {
                _ = try Endpoint(parsing: a)
            } catch {
                throw ValidationError("--scrape: \(error)")
            }
        }
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError("--log-level: \"\(logLevel)\" is not a level")
        }
        try tls.check(scrape.compactMap { try? Endpoint(parsing: $0) }, option: "--scrape")
        if let metricsListen {
            try Self.checkHostPort(metricsListen, option: "--metrics-listen")
            guard metricsListen != http else { throw ValidationError("--metrics-listen: must differ from --http") }
        }
    }

    /// An HTTP listener's address: host:port, nothing else.
    static func checkHostPort(_ text: String, option: String) throws {
        do {
            guard case .tcp = try Endpoint(parsing: text) else { throw ValidationError("\(option): must be host:port") }
        } catch let error as Endpoint.ParseError {
            throw ValidationError("\(option): \(error)")
        }
    }

    /// The keys of --api-keys-file, read once at start-up.
    func loadAPIKeys() throws -> APIKeys? {
        guard let path = apiKeysFile else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("--api-keys-file: cannot read \(path)")
        }
        do {
            return try APIKeys(parsing: String(decoding: data, as: UTF8.self))
        } catch {
            throw ValidationError("--api-keys-file: \(path): \(error)")
        }
    }

    func run() throws {
        let redactor = Redactor()
        let shipper = try logging.bootstrap(
            service: "api-service", dataDir: dataDir, level: Logger.Level(rawValue: logLevel.lowercased()) ?? .info,
            redact: { redactor.redact($0) })
        defer { shipper.shutdown() }
        let logger = Logger(label: "api-service")
        let loop = try EventLoop()
        try loopOptions.apply(to: loop)

        var redisConfig = try redis.configuration()
        redisConfig.commandTimeoutMs = redisTimeoutMs
        let redisClient = RedisClient(loop: loop, service: try redis.service, configuration: redisConfig)
        redis.stopOnConfigurationError(redisClient, program: "api-service") { logger.critical("redis: \($0)") }
        let queue = QueueClient(redis: redisClient, keys: TaskKeys(prefix: redis.prefix))
        queue.idempotencyTTLSeconds = idempotencyTtl
        redisClient.onConnect = {
            logger.notice("redis connected", metadata: ["redis": "\(redisClient.server.map { "\($0)" } ?? "")"])
            queue.ensureGroup { result in
                if case .failure(let e) = result {
                    logger.error("cannot create the consumer group", metadata: ["error": "\(e)"])
                }
            }
        }
        redisClient.onDisconnect = { error in
            logger.warning("redis connection lost; reconnecting", metadata: ["error": "\(error)"])
        }
        redisClient.start()

        var apiConfiguration = APIHandler.Configuration()
        apiConfiguration.monitorAdmin = monitorAdmin
        apiConfiguration.apiKeys = try loadAPIKeys()
        apiConfiguration.metricsOnPublicListener = metricsListen == nil
        let api = APIHandler(queue: queue, configuration: apiConfiguration, logger: logger)
        var shedding = LoadShedder.Configuration()
        shedding.maxBacklog = maxBacklog > 0 ? maxBacklog : nil
        shedding.maxMessageBytes = maxBodyBytes
        let shedder = try LoadShedder(loop: loop, queue: queue, configuration: shedding)
        api.shedder = shedder
        var httpConfig = HTTPServer.Configuration()
        httpConfig.maxBodyBytes = maxBodyBytes
        httpConfig.maxHeaderBytes = maxHeaderBytes
        httpConfig.maxConnections = maxConnections
        FileLimit.raise(forConnections: maxConnections + scrape.count, logger: logger)
        httpConfig.requestTimeoutMs = requestTimeoutMs
        httpConfig.idleTimeoutMs = idleTimeoutMs
        let server: HTTPServer
        do {
            server = try HTTPServer(loop: loop, endpoint: try Endpoint(parsing: http), configuration: httpConfig) {
                api.handle($0, $1)
            }
        } catch {
            throw ValidationError("--http: \(error)")
        }
        server.onProblem = { logger.warning("http: \($0)") }
        var metricsServer: HTTPServer?
        if let metricsListen {
            var metricsConfig = HTTPServer.Configuration()
            metricsConfig.maxConnections = 64
            do {
                metricsServer = try HTTPServer(
                    loop: loop, endpoint: try Endpoint(parsing: metricsListen), configuration: metricsConfig
                ) { api.handleMetricsListener($0, $1) }
            } catch {
                throw ValidationError("--metrics-listen: \(error)")
            }
        }
        let scraper = MeshScraper(
            loop: loop, endpoints: try scrape.map { try Endpoint(parsing: $0) }, tls: try tls.context())
        api.scraper = scraper.isEmpty ? nil : scraper
        // /monitor samples throughput, the queue and the scraped services once a second.
        try api.startMonitor(loop: loop)
        api.figuresProvider = {
            shipper.stats.figures().merging(server.stats.figures()) { a, _ in a }
                .merging(redisClient.stats.figures()) { a, _ in a }
        }
        let hangup = try LoggingOptions.reopenOnHangup(loop: loop, shipper: shipper)

        let shutdown = ServiceShutdown(loop: loop, logger: logger, shipper: shipper, graceMs: shutdownGraceMs)
        shutdown.stopAccepting = {
            server.close()
            metricsServer?.close()
        }
        shutdown.drain = { _, done in shutdown.poll(until: { server.isDrained }, done) }
        shutdown.close = {
            shedder.close()
            scraper.close()
            api.stopMonitor()
            hangup.close()
            redisClient.close()
        }
        shutdown.summary = { ["submitted": "\(api.stats.submitted)"] }
        var url = "http://\(http)"
        if case .tcp(let host, let port) = server.endpoint { url = "http://\(host):\(port)" }
        logger.notice("api-service ready", metadata: ["http": "\(url)", "redis": "\(redisClient.service)"])
        try shutdown.run()
    }
}
