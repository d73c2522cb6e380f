// APIService: the public HTTP API — POST /submit, GET /status/{id}, /healthz, /readyz.

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
/// let api = APIService(queue: queue, logger: logger)
/// let server = try HTTPServer(loop: loop, endpoint: endpoint, handler: api.handle)
/// ```
public final class APIService {
    public struct Configuration: Sendable {
        /// Seconds a client should wait before trying again after a 503.
        public var retryAfterSeconds = 1
        public init() {}
    }

    public struct Stats: Sendable {
        public var submitted: UInt64 = 0
        public var replayed: UInt64 = 0
        public var redisErrors: UInt64 = 0
        /// Answers by method, route and status.
        public var responses: [ResponseKey: UInt64] = [:]
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

    public let queue: TaskQueue
    public let configuration: Configuration
    public private(set) var stats = Stats()
    private let logger: Logger
    private let taskIDs = TaskIDGenerator()
    private var latency: [Route: LatencyHistogram] = [:]
    /// This process's other figures for /metrics (the log shipper's, the HTTP server's).
    public var figuresProvider: (() -> [String: Double])?
    /// The rest of the mesh, for /metrics.
    public var scraper: MeshScraper?

    public init(queue: TaskQueue, configuration: Configuration = Configuration(), logger: Logger) {
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
        case unknown = "unknown"

        var allow: String {
            switch self {
            case .submit: "POST"
            case .status, .healthz, .readyz, .metrics, .openapi, .docs: "GET, HEAD"
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
        } else if path == "/docs" || path == "/docs/" {
            route = .docs
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
        case .submit where request.method == "POST":
            submit(request, receivedAtNs: responder.receivedAtNs, respond)
        case .status where isRead:
            status(String(taskID), respond)
        case .healthz where isRead:
            respond(.json(200, Array(#"{"status":"ok"}"#.utf8)))
        case .readyz where isRead:
            ready(respond)
        case .metrics where isRead:
            metrics(respond)
        case .openapi where isRead:
            respond(.json(200, Self.openAPIBytes, headers: [("Cache-Control", "max-age=60")]))
        case .docs where isRead:
            respond(
                HTTPResponse(
                    status: 200,
                    headers: [
                        ("Content-Type", "text/html; charset=utf-8"),
                        (
                            "Content-Security-Policy",
                            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'"
                        ),
                    ], body: Self.docsBytes))
        default:
            respond(
                .error(405, "\(request.method) is not allowed on \(route.rawValue)", headers: [("Allow", route.allow)]))
        }
    }

    static let openAPIBytes = Array(OpenAPIDocument.json.utf8)
    static let docsBytes = Array(DocsPage.html.utf8)

    private func count(_ method: String, _ route: Route, _ status: Int, since ns: UInt64) {
        // Keyed by parts, not by a string made of them: this runs for every request.
        stats.responses[ResponseKey(method: method, route: route.rawValue, status: status), default: 0] += 1
        latency[route, default: LatencyHistogram()].record(
            seconds: Double(EventLoop.hrtimeNs() &- ns) / 1e9)
    }

    private var unavailableHeaders: [(name: String, value: String)] {
        [("Retry-After", String(configuration.retryAfterSeconds))]
    }

    // MARK: POST /submit

    struct SubmitBody: Decodable {
        var message: String
    }

    private func submit(
        _ request: HTTPRequest, receivedAtNs: UInt64, _ respond: @escaping (HTTPResponse) -> Void
    ) {
        if let type = request.mediaType, type != "application/json", !type.hasSuffix("+json") {
            return respond(.error(415, "Content-Type must be application/json, not \(type)"))
        }
        let key = request.headers["Idempotency-Key"]
        if let key, !Self.isValidIdempotencyKey(key) {
            return respond(.error(400, "Idempotency-Key must be 1-255 printable ASCII characters"))
        }
        let message: String
        switch Self.decodeSubmit(request.body) {
        case .success(let m): message = m
        case .failure(let error): return respond(.error(error.status, error.detail))
        }
        let id = taskIDs.make()
        queue.submit(id: id, message: message, idempotencyKey: key) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(.created(let id)):
                self.stats.submitted += 1
                let us = (EventLoop.hrtimeNs() &- receivedAtNs) / 1_000
                self.logger.info(
                    "task submitted",
                    metadata: [
                        "task_id": "\(id)", "bytes": "\(message.utf8.count)",
                        "duration_ms": "\(us / 1_000).\(us % 1_000 / 100)",
                    ])
                respond(Self.accepted(id, replayed: false))
            case .success(.existing(let id)):
                self.stats.replayed += 1
                self.logger.info("idempotent submit replayed", metadata: ["task_id": "\(id)"])
                respond(Self.accepted(id, replayed: true))
            case .success(.conflict(let id)):
                respond(.error(422, "this Idempotency-Key was already used for a different message (task \(id))"))
            case .failure(let error):
                self.stats.redisErrors += 1
                self.logger.warning("submit failed: task not stored", metadata: ["error": "\(error)"])
                respond(.error(503, "the task could not be stored: \(error)", headers: self.unavailableHeaders))
            }
        }
    }

    struct RequestError: Error {
        var status: Int
        var detail: String
    }

    /// Reads `{"message": "<string>"}`: malformed JSON is 400, a missing or non-string message 422.
    static func decodeSubmit(_ body: [UInt8]) -> Result<String, RequestError> {
        guard !body.isEmpty else {
            return .failure(RequestError(status: 400, detail: "empty body; send {\"message\": \"...\"}"))
        }
        if let message = plainSubmitMessage(body) { return .success(message) }
        do {
            return .success(try JSONDecoder().decode(SubmitBody.self, from: Data(body)).message)
        } catch DecodingError.keyNotFound {
            return .failure(RequestError(status: 422, detail: "\"message\" is missing"))
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty {
            return .failure(
                RequestError(status: 422, detail: "the body must be a JSON object with a \"message\" string"))
        } catch DecodingError.typeMismatch, DecodingError.valueNotFound {
            return .failure(RequestError(status: 422, detail: "\"message\" must be a string"))
        } catch {
            return .failure(RequestError(status: 400, detail: "malformed JSON"))
        }
    }

    /// The message of the one shape nearly every submit has — `{"message": "…"}` with no escape in
    /// the string — read directly; nil for anything else, which JSONDecoder then reads (and judges).
    /// JSONDecoder's fixed cost per document was the largest part of a submit's own CPU; a
    /// differential test holds this path to its answers.
    static func plainSubmitMessage(_ body: [UInt8]) -> String? {
        body.withUnsafeBufferPointer { b -> String? in
            var i = 0
            func skipSpace() {
                while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
            }
            func take(_ literal: StaticString) -> Bool {
                let n = literal.utf8CodeUnitCount
                guard i + n <= b.count else { return false }
                for k in 0..<n where b[i + k] != literal.utf8Start[k] { return false }
                i += n
                return true
            }
            skipSpace()
            guard take("{") else { return nil }
            skipSpace()
            guard take(#""message""#) else { return nil }
            skipSpace()
            guard take(":") else { return nil }
            skipSpace()
            guard take(#"""#) else { return nil }
            let start = i
            // A quote ends the string; a backslash (an escape) or a control character (invalid
            // JSON) leaves the body to JSONDecoder.
            while i < b.count, b[i] != 0x22 {
                if b[i] == 0x5C || b[i] < 0x20 { return nil }
                i += 1
            }
            guard i < b.count else { return nil }
            let end = i
            i += 1
            skipSpace()
            guard take("}") else { return nil }
            skipSpace()
            guard i == b.count else { return nil }
            // Invalid UTF-8 is JSONDecoder's to refuse.
            return String(validating: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
        }
    }

    static func isValidIdempotencyKey(_ key: String) -> Bool {
        let u = key.utf8
        return !u.isEmpty && u.count <= 255 && u.allSatisfy { $0 >= 0x21 && $0 <= 0x7E }
    }

    static func accepted(_ id: String, replayed: Bool) -> HTTPResponse {
        let url = "/status/" + id
        var body: [UInt8] = []
        body.reserveCapacity(128)
        body.append(contentsOf: #"{"task_id":"#.utf8)
        JSONText.appendString(id, to: &body)
        body.append(contentsOf: #","status":"submitted","status_url":"#.utf8)
        JSONText.appendString(url, to: &body)
        body.append(UInt8(ascii: "}"))
        var headers: [(name: String, value: String)] = [("Location", url)]
        if replayed { headers.append(("Idempotent-Replayed", "true")) }
        return .json(202, body, headers: headers)
    }

    // MARK: GET /status/{task_id}

    private func status(_ id: String, _ respond: @escaping (HTTPResponse) -> Void) {
        guard TaskID.isValid(id) else {
            return respond(.error(400, "malformed task id: must be \(TaskID.rule)"))
        }
        queue.status(id: id) { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(nil):
                respond(.error(404, "no task \(id): unknown, or expired after its retention"))
            case .success(let record?):
                var headers: [(name: String, value: String)] = []
                if !record.state.isTerminal { headers.append(("Retry-After", "1")) }
                headers.append(("Cache-Control", "no-store"))
                respond(.json(200, Self.statusBody(record), headers: headers))
            case .failure(let error):
                self.stats.redisErrors += 1
                respond(.error(503, "task state unavailable: \(error)", headers: self.unavailableHeaders))
            }
        }
    }

    /// `{"task_id", "state", "result"?, "error"?, "attempts", "created_at", "updated_at", "retry_at"?}`.
    static func statusBody(_ r: TaskRecord) -> [UInt8] {
        var b: [UInt8] = []
        b.reserveCapacity(160 + (r.result?.count ?? 0) + (r.error?.utf8.count ?? 0))
        b.append(contentsOf: #"{"task_id":"#.utf8)
        JSONText.appendString(r.id, to: &b)
        b.append(contentsOf: #","state":"#.utf8)
        JSONText.appendString(r.state.rawValue, to: &b)
        if let result = r.result {
            b.append(contentsOf: #","result":"#.utf8)
            b.append(contentsOf: result)
        }
        if let error = r.error {
            b.append(contentsOf: #","error":"#.utf8)
            JSONText.appendString(error, to: &b)
        }
        b.append(contentsOf: #","attempts":"#.utf8)
        JSONText.appendInt(r.attempts, to: &b)
        func time(_ key: StaticString, _ ms: Int64) {
            key.withUTF8Buffer { b.append(contentsOf: $0) }
            b.append(UInt8(ascii: "\""))
            Timestamp.append(ms: ms, to: &b)  // RFC 3339 needs no escaping
            b.append(UInt8(ascii: "\""))
        }
        time(#","created_at":"#, r.createdAtMs)
        time(#","updated_at":"#, r.updatedAtMs)
        if let retryAt = r.retryAtMs { time(#","retry_at":"#, retryAt) }
        b.append(UInt8(ascii: "}"))
        return b
    }

    // MARK: GET /metrics

    /// Everything in one scrape: this process's HTTP figures, the queue (read from Redis now), the
    /// pipeline's totals (kept by the Lua scripts), and every `--scrape` service's figures.
    private func metrics(_ respond: @escaping (HTTPResponse) -> Void) {
        var text = PrometheusText()
        let requestsHelp = "HTTP requests answered, by route, method and status."
        for (key, n) in stats.responses.sorted(by: { $0.key < $1.key }) {
            text.add(
                "alertmesh_http_requests_total", .counter, requestsHelp,
                labels: [("method", key.method), ("route", key.route), ("status", String(key.status))], value: Double(n)
            )
        }
        for (route, histogram) in latency.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            histogram.add(
                to: &text, name: "alertmesh_http_request_duration_seconds",
                help: "Time from a complete request to its answer.", labels: [("route", route.rawValue)])
        }
        text.add(
            "alertmesh_submits_total", .counter, "Tasks accepted (202) by this api-service.",
            value: Double(stats.submitted))
        text.add(
            "alertmesh_idempotent_replays_total", .counter, "Submits answered with an existing task (Idempotency-Key).",
            value: Double(stats.replayed))
        text.add(
            "alertmesh_redis_errors_total", .counter, "Requests answered 503 because Redis failed.",
            value: Double(stats.redisErrors))
        text.add("alertmesh_redis_up", .gauge, "Whether Redis is connected.", value: queue.redis.isConnected ? 1 : 0)
        for (name, value) in (figuresProvider?() ?? [:]).sorted(by: { $0.key < $1.key }) {
            text.add(
                PrometheusText.name("alertmesh_", name), name.hasSuffix("_total") ? .counter : .gauge,
                "api-service: \(name.replacingOccurrences(of: "_", with: " ")).", labels: [("service", "api-service")],
                value: value)
        }
        var pending = 3
        let finish = { [weak self] in
            pending -= 1
            guard pending == 0, self != nil else { return }
            respond(
                HTTPResponse(
                    status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")],
                    body: Array(text.render().utf8)))
        }
        queue.depth { result in
            if case .success(let d) = result {
                text.add("alertmesh_queue_length", .gauge, "Entries in the work stream.", value: Double(d.length))
                text.add(
                    "alertmesh_queue_pending", .gauge, "Entries delivered to a worker, not yet finished.",
                    value: Double(d.pending))
                text.add(
                    "alertmesh_queue_lag", .gauge, "Entries not yet delivered to any worker.", value: Double(d.lag))
                text.add("alertmesh_queue_delayed", .gauge, "Tasks waiting for a retry.", value: Double(d.delayed))
                text.add(
                    "alertmesh_dead_letter_size", .gauge, "Entries in the dead-letter stream.", value: Double(d.dead))
                text.add(
                    "alertmesh_queue_consumers", .gauge, "Consumers (workers) in the group.", value: Double(d.consumers)
                )
            }
            finish()
        }
        queue.counters { result in
            if case .success(let counters) = result {
                for state in ["submitted", "succeeded", "failed", "retried", "poisoned"] {
                    text.add(
                        "alertmesh_tasks_total", .counter,
                        "Pipeline totals across every service: tasks submitted, finished by final state, retries, poison.",
                        labels: [("event", state)], value: Double(counters[state] ?? 0))
                }
            }
            finish()
        }
        guard let scraper else { return finish() }
        scraper.scrape { results in
            Self.add(results, to: &text)
            finish()
        }
    }

    /// The scraped services' figures: `alertmesh_up`, RPC calls and latency per method, and each
    /// service's own figures as `alertmesh_<name>`.
    static func add(_ results: [ScrapeResult], to text: inout PrometheusText) {
        for r in results {
            let labels = [("instance", r.instance), ("service", r.service)]
            text.add(
                "alertmesh_up", .gauge, "Whether a scraped mesh service answered _sys.Stats.", labels: labels,
                value: r.stats == nil ? 0 : 1)
            guard let s = r.stats else { continue }
            text.add(
                "alertmesh_uptime_seconds", .gauge, "Seconds since the service started.", labels: labels,
                value: s.uptimeSeconds)
            text.add(
                "alertmesh_rpc_connections_open", .gauge, "Open RPC connections.", labels: labels,
                value: Double(s.connectionsOpen))
            text.add(
                "alertmesh_rpc_calls_in_flight", .gauge, "RPC calls being served.", labels: labels,
                value: Double(s.callsInFlight))
            for m in s.methods {
                for (status, n) in m.byStatus.sorted(by: { $0.key < $1.key }) {
                    text.add(
                        "alertmesh_rpc_calls_total", .counter, "RPC calls served, by method and status.",
                        labels: labels + [("method", m.method), ("status", status)], value: Double(n))
                }
                for (q, v) in [("0.5", m.latencyP50Ms), ("0.9", m.latencyP90Ms), ("0.99", m.latencyP99Ms)] {
                    text.add(
                        "alertmesh_rpc_latency_ms", .gauge, "RPC latency quantiles since start, in ms.",
                        labels: labels + [("method", m.method), ("quantile", q)], value: v)
                }
            }
            for (name, value) in s.figures.sorted(by: { $0.key < $1.key }) {
                text.add(
                    PrometheusText.name("alertmesh_", name), name.hasSuffix("_total") ? .counter : .gauge,
                    "\(name.replacingOccurrences(of: "_", with: " ")).", labels: labels, value: value)
            }
        }
    }

    // MARK: GET /readyz

    private func ready(_ respond: @escaping (HTTPResponse) -> Void) {
        guard queue.redis.isConnected else {
            let why = queue.redis.lastError.map { "\($0)" } ?? "connecting"
            return respond(.error(503, "redis unreachable: \(why)", headers: unavailableHeaders))
        }
        queue.depth { [weak self] result in
            guard let self else { return }
            switch result {
            case .success(let d):
                let body =
                    #"{"status":"ready","redis":"up","stream_length":\#(d.length),"pending":\#(d.pending),"lag":\#(d.lag),"delayed":\#(d.delayed),"dead_letter":\#(d.dead),"consumers":\#(d.consumers)}"#
                respond(.json(200, Array(body.utf8)))
            case .failure(let error):
                respond(.error(503, "not ready: \(error)", headers: self.unavailableHeaders))
            }
        }
    }
}
