// APIHandler: the public HTTP API's routing — which endpoint a request is for, and its counters.
// The endpoints are in APIHandler+Submit, +Status and Metrics.swift.

import FoundationEssentials
public import Logging
public import MeshHTTP
import MeshJSON
import MeshLoop
import MeshRedis
import MeshTime
import TaskPipeline
public import TaskQueue

/// Routes requests to the queue and shapes every answer (JSON bodies, JSON errors).
///
/// A task is acknowledged (202) only after Redis confirmed storing it; with Redis away the answer
/// is 503 with `Retry-After`, never a 202 for a task that was not stored.
///
/// ```swift
/// let api = APIHandler(queue: queue, logger: logger)
/// let server = try HTTPServer(loop: loop, endpoint: endpoint, handler: api.handle)
/// ```
public final class APIHandler {
    public struct Configuration: Sendable {
        /// Seconds a client should wait before trying again after a 503.
        public var retryAfterSeconds = 1
        /// Whether /monitor may re-drive dead letters (`--monitor-admin`); off, the page only lists them.
        public var monitorAdmin = false
        /// Bearer keys /submit and /status require (`--api-keys-file`); nil: open.
        public var apiKeys: APIKeys?
        /// Whether the public listener serves /metrics; off when `--metrics-listen` gives it its own.
        public var metricsOnPublicListener = true
        public init() {}
    }

    public struct Stats: Sendable {
        public var submitted: UInt64 = 0
        public var replayed: UInt64 = 0
        public var redisErrors: UInt64 = 0
        /// Submits Redis refused with -OOM (answered 503 with Retry-After).
        public var refusedOutOfMemory: UInt64 = 0
        /// Answers by method, route and status.
        public var responses: [ResponseKey: UInt64] = [:]

        /// The counters under their metric names (the answers are labelled series of their own).
        public func figures() -> [String: Double] {
            [
                "submits_total": Double(submitted), "idempotent_replays_total": Double(replayed),
                "redis_errors_total": Double(redisErrors), "submits_refused_oom_total": Double(refusedOutOfMemory),
            ]
        }

        /// What each figure counts, for `# HELP`.
        static let help = [
            "submits_total": "Tasks accepted (202) by this api-service.",
            "idempotent_replays_total": "Submits answered with an existing task (Idempotency-Key).",
            "redis_errors_total": "Requests answered 503 because Redis failed.",
            "submits_refused_oom_total": "Submits answered 503 because Redis was out of memory (-OOM).",
        ]
    }

    /// What answers are counted by: `POST /submit 202`.
    public struct ResponseKey: Hashable, Sendable, Comparable {
        public var method: String
        public var route: String
        public var status: Int

        public static func < (a: ResponseKey, b: ResponseKey) -> Bool {
            (a.route, a.method, a.status) < (b.route, b.method, b.status)
        }
    }

    public let queue: QueueClient
    public var configuration: Configuration
    public internal(set) var stats = Stats()
    let logger: Logger
    let taskIDs = TaskIDGenerator()
    var latency: [Route: LatencyHistogram] = [:]
    /// This process's other figures for /metrics (the log shipper's, the HTTP server's).
    public var figuresProvider: (() -> [String: Double])?
    /// The rest of the mesh, for /metrics.
    public var scraper: MeshScraper?
    /// Sheds submits (429) before Redis runs out of memory; none: every submit is tried.
    public var shedder: LoadShedder?
    /// What /monitor shows, sampled once a second after `startMonitor(loop:)`.
    let monitor = MonitorSampler()
    var monitorTimer: LoopTimer?

    /// The queue's depth and the pipeline's counters, read from Redis at most once a second
    /// however many read /metrics.
    private(set) lazy var depth = SharedReading { [queue] in queue.depth($0) }
    private(set) lazy var counters = SharedReading { [queue] in queue.counters($0) }
    /// The alert-services' recent alerts, asked at most once per 0.9 s however many pages are open.
    private(set) lazy var recentReading = SharedReading { [unowned self] in self.readRecentAlerts($0) }

    public init(queue: QueueClient, configuration: Configuration = Configuration(), logger: Logger) {
        self.queue = queue
        self.configuration = configuration
        self.logger = logger
    }

    /// The route a request matched, for counters (`/status/{task_id}`, not the id itself).
    enum Route: String {
        case submit = "/submit"
        case status = "/status/{task_id}"
        case healthz = "/healthz"
        case readyz = "/readyz"
        case metrics = "/metrics"
        case openapi = "/openapi.json"
        case docs = "/docs"
        case monitor = "/monitor"
        case unknown = "unknown"

        var allow: String {
            switch self {
            case .submit: "POST"
            case .status, .healthz, .readyz, .metrics, .openapi, .docs, .monitor: "GET, HEAD"
            case .unknown: ""
            }
        }
    }

    /// Handles one request (the `HTTPServer` handler).
    public func handle(_ request: HTTPRequest, _ responder: HTTPResponder) {
        let path = request.path
        let route: Route
        var taskID: Substring = ""
        if path == "/submit" {
            route = .submit
        } else if path.utf8.starts(with: "/status/".utf8) {
            route = .status
            taskID = path.dropFirst("/status/".count)
        } else if path == "/healthz" {
            route = .healthz
        } else if path == "/readyz" {
            route = .readyz
        } else if path == "/metrics" {
            route = .metrics
        } else if path == "/openapi.json" {
            route = .openapi
        } else if path.utf8.starts(with: "/docs".utf8) {
            route = .docs
        } else if path.utf8.starts(with: "/monitor".utf8) {
            route = .monitor
        } else {
            route = .unknown
        }
        let respond = { [weak self] (response: HTTPResponse) in
            self?.count(request.method, route, response.status, since: responder.receivedAtNs)
            responder.respond(response)  // for HEAD the server sends the headers only
        }
        let isRead = request.method == "GET" || request.method == "HEAD"
        switch route {
        case .unknown:
            respond(
                .error(404, "no such endpoint \(request.method) \(path); try POST /submit or GET /status/{task_id}"))
        case .submit where request.method == "POST" && !admits(request, respond):
            break
        case .submit where request.method == "POST":
            submit(request, receivedAtNs: responder.receivedAtNs, respond)
        case .status where isRead && !admits(request, respond):
            break
        case .status where isRead:
            status(String(taskID), respond)
        case .healthz where isRead:
            respond(.json(200, Self.healthyBytes))
        case .readyz where isRead:
            ready(respond)
        case .metrics where isRead && !configuration.metricsOnPublicListener:
            respond(.error(404, "no such endpoint \(request.method) \(path); /metrics is on the metrics listener"))
        case .metrics where isRead:
            metrics(respond)
        case .openapi where isRead:
            respond(.json(200, Self.openAPIBytes, headers: [("Cache-Control", "max-age=60")]))
        case .docs where isRead:
            docsRoute(path.dropFirst("/docs".count), respond)
        case .monitor where isRead:
            monitorRoute(path.dropFirst("/monitor".count), respond)
        case .monitor where request.method == "POST" && path == "/monitor/api/dead-letters/redrive":
            redrive(request, respond)
        default:
            respond(
                .error(405, "\(request.method) is not allowed on \(route.rawValue)", headers: [("Allow", route.allow)]))
        }
    }

    /// With API keys configured: whether the request presents one; if not, answers 401.
    private func admits(_ request: HTTPRequest, _ respond: (HTTPResponse) -> Void) -> Bool {
        guard let keys = configuration.apiKeys else { return true }
        let presented = request.headers["Authorization"]
        if keys.admits(presented) { return true }
        let challenge =
            presented == nil ? #"Bearer realm="alertmesh""# : #"Bearer realm="alertmesh", error="invalid_token""#
        respond(
            .error(
                401,
                presented == nil ? "an API key is required: Authorization: Bearer <key>" : "the API key is not valid",
                headers: [("WWW-Authenticate", challenge)]))
        return false
    }

    /// The metrics listener (`--metrics-listen`): /metrics and /healthz, nothing else.
    public func handleMetricsListener(_ request: HTTPRequest, _ responder: HTTPResponder) {
        guard request.method == "GET" || request.method == "HEAD" else {
            return responder.respond(
                .error(405, "\(request.method) is not allowed here", headers: [("Allow", "GET, HEAD")]))
        }
        switch request.path {
        case "/metrics": metrics { responder.respond($0) }
        case "/healthz": responder.respond(.json(200, Self.healthyBytes))
        default: responder.respond(.error(404, "the metrics listener serves GET /metrics and /healthz only"))
        }
    }

    static let openAPIBytes = Array(OpenAPIDocument.json.utf8)
    static let healthyBytes = Array(#"{"status":"ok"}"#.utf8)

    private func count(_ method: String, _ route: Route, _ status: Int, since ns: UInt64) {
        // Keyed by parts, not by a string made of them: this runs for every request.
        stats.responses[ResponseKey(method: method, route: route.rawValue, status: status), default: 0] += 1
        latency[route, default: LatencyHistogram()].record(
            seconds: Double(EventLoop.hrtimeNs() &- ns) / 1e9)
    }

    var unavailableHeaders: [(name: String, value: String)] {
        [("Retry-After", String(configuration.retryAfterSeconds))]
    }
}
