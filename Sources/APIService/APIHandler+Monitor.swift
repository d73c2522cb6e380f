// APIHandler+Monitor: GET /monitor (the page, its script and style) and /monitor/api/overview.

import FoundationEssentials
import MeshHTTP
public import MeshLoop

extension APIHandler {
    /// Starts sampling for /monitor once a second on `loop` (api-service does this at start).
    public func startMonitor(loop: EventLoop) throws {
        let timer = try LoopTimer(loop: loop)
        timer.start(afterMs: 0, repeatMs: 1_000) { [weak self] in
            guard let self else { return }
            self.monitor.sample(self)
        }
        timer.unref()
        monitorTimer = timer
    }

    public func stopMonitor() {
        monitorTimer?.close()
        monitorTimer = nil
    }

    func monitorRoute(_ path: Substring, _ respond: @escaping (HTTPResponse) -> Void) {
        switch path {
        case "", "/":
            respond(Self.pageFile(MonitorPage.html, type: "text/html; charset=utf-8"))
        case "/monitor.js":
            respond(Self.pageFile(MonitorPage.script, type: "text/javascript; charset=utf-8"))
        case "/monitor.css":
            respond(Self.pageFile(MonitorPage.style, type: "text/css; charset=utf-8"))
        case "/api/overview":
            respond(Self.monitorJSON(overview()))
        case "/api/dead-letters":
            deadLetters(respond)
        case "/api/recent-alerts":
            recentAlerts(respond)
        default:
            respond(.error(404, "no such monitor resource \(path); the page is GET /monitor"))
        }
    }

    /// A page or one of its files (/monitor, /docs): no inline script or style, nothing from
    /// elsewhere, never framed, forms posting only here (nosniff: the server adds it everywhere).
    static func pageFile(_ text: String, type: String) -> HTTPResponse {
        HTTPResponse(
            status: 200,
            headers: [
                ("Content-Type", type),
                (
                    "Content-Security-Policy",
                    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
                ),
                ("X-Frame-Options", "DENY"), ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-cache"),
            ], body: Array(text.utf8))
    }

    func docsRoute(_ path: Substring, _ respond: @escaping (HTTPResponse) -> Void) {
        switch path {
        case "", "/": respond(Self.pageFile(DocsPage.html, type: "text/html; charset=utf-8"))
        case "/docs.js": respond(Self.pageFile(DocsPage.script, type: "text/javascript; charset=utf-8"))
        case "/docs.css": respond(Self.pageFile(DocsPage.style, type: "text/css; charset=utf-8"))
        default: respond(.error(404, "no such docs resource \(path); the page is GET /docs"))
        }
    }

    /// The JSON behind the page: throughput, the queue, end-to-end latency, workers and
    /// alert-services. Figures and states only: no message text, nothing unmasked.
    func overview() -> MonitorOverview {
        let m = monitor
        let now = EventLoop.wallMs()
        var doc = MonitorOverview(nowMs: now)
        doc.throughput.points = m.throughput.map {
            [Double($0.atMs), Self.round($0.submitted), Self.round($0.completed), Self.round($0.failed)]
        }
        doc.queue.redisUp = m.redisUp
        if let d = m.depth {
            doc.queue.backlog = d.lag + d.pending + d.delayed
            doc.queue.lag = d.lag
            doc.queue.pending = d.pending
            doc.queue.delayed = d.delayed
            doc.queue.deadLetters = d.dead
            doc.queue.consumers = d.consumers
            doc.queue.oldestPendingAgeS =
                d.oldestPendingMs.map { Self.round(max(0, Double(Int64(now) - $0) / 1_000)) } ?? 0
        }
        let p50 = m.e2eQuantile(0.5), p99 = m.e2eQuantile(0.99)
        doc.e2e = .init(
            tasks: p50?.tasks ?? 0, p50S: p50.map { Self.round($0.seconds) }, p99S: p99.map { Self.round($0.seconds) })
        for r in m.services {
            let serving = r.health?.status == .serving
            let reason = r.stats == nil ? (r.error ?? "no answer") : (r.health?.reason ?? "")
            if r.service == "worker" {
                let figures = r.stats?.figures ?? [:]
                let state =
                    r.stats == nil
                    ? "down" : figures["worker_paused"] == 1 ? "paused" : serving ? "serving" : "not serving"
                doc.workers.append(
                    .init(
                        instance: r.instance, state: state, reason: reason, lastSeenMs: r.lastSeenMs,
                        inFlight: Int(figures["tasks_in_flight"] ?? 0), concurrency: Int(figures["concurrency"] ?? 0),
                        succeeded: Int(figures["tasks_succeeded_total"] ?? 0)))
            } else if r.service == "alert-service" {
                let analyze = r.stats?.methods.first { $0.method.hasSuffix("/Analyze") }
                doc.alertServices.append(
                    .init(
                        instance: r.instance, state: r.stats == nil ? "down" : serving ? "serving" : "not serving",
                        reason: reason, lastSeenMs: r.lastSeenMs,
                        callsPerS: Self.round(m.callsPerSecond[r.instance] ?? 0),
                        p99Ms: analyze.map { Self.round($0.latencyP99Ms) }))
            }
        }
        return doc
    }

    /// A monitor answer: `value` as JSON (snake_case keys, sorted), never kept by the browser.
    static func monitorJSON(_ value: some Encodable) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return .json(200, Array(data), headers: [("Cache-Control", "no-store")])
    }

    static func round(_ v: Double) -> Double { (v * 1_000).rounded() / 1_000 }
}

/// `/monitor/api/overview` (documented in /openapi.json).
struct MonitorOverview: Encodable {
    struct Throughput: Encodable {
        var intervalMs = 1_000
        var columns = ["at_ms", "submitted", "completed", "failed"]
        var points: [[Double]] = []
    }
    struct Queue: Encodable {
        var redisUp = false
        var backlog: Int64?, lag: Int64?, pending: Int64?, delayed: Int64?, deadLetters: Int64?, consumers: Int64?
        var oldestPendingAgeS: Double?
    }
    struct E2E: Encodable {
        var windowS = 60
        var tasks: Double = 0
        var p50S: Double?
        var p99S: Double?
    }
    struct Worker: Encodable {
        var instance: String, state: String, reason: String
        var lastSeenMs: UInt64?
        var inFlight: Int, concurrency: Int, succeeded: Int
    }
    struct AlertService: Encodable {
        var instance: String, state: String, reason: String
        var lastSeenMs: UInt64?
        var callsPerS: Double
        var p99Ms: Double?
    }
    var nowMs: UInt64
    var throughput = Throughput()
    var queue = Queue()
    var e2e = E2E()
    var workers: [Worker] = []
    var alertServices: [AlertService] = []
}
