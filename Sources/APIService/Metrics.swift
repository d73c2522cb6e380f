// Metrics: GET /metrics — the whole mesh in one Prometheus text exposition.

import MeshHTTP
import MeshLoop
import MeshTime
import TaskQueue

/// Builds a Prometheus text exposition (version 0.0.4): samples are grouped by metric name, each
/// group opened by its `# HELP` and `# TYPE` lines, label values escaped.
struct PrometheusText {
    enum Kind: String {
        case counter, gauge, histogram, summary
    }

    private var order: [String] = []
    private var families: [String: (help: String, kind: Kind, samples: [String])] = [:]

    mutating func add(
        _ name: String, _ kind: Kind, _ help: String, labels: [(String, String)] = [], value: Double,
        suffix: String = ""
    ) {
        if families[name] == nil {
            order.append(name)
            families[name] = (help, kind, [])
        }
        var line = name + suffix
        if !labels.isEmpty {
            line += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        line += " " + Self.format(value)
        families[name]!.samples.append(line)
    }

    func render() -> String {
        var out = ""
        for name in order {
            guard let f = families[name] else { continue }
            out += "# HELP \(name) \(f.help)\n# TYPE \(name) \(f.kind.rawValue)\n"
            for s in f.samples { out += s + "\n" }
        }
        return out
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    /// A metric name from a figure's name: `[a-zA-Z0-9_]`, prefixed.
    static func name(_ prefix: String, _ figure: String) -> String {
        prefix + String(figure.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
    }
}

/// A latency histogram with fixed buckets (seconds), as Prometheus expects: cumulative counts.
struct LatencyHistogram {
    static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
    private(set) var counts = [UInt64](repeating: 0, count: LatencyHistogram.bounds.count)
    private(set) var count: UInt64 = 0
    private(set) var sum: Double = 0

    mutating func record(seconds: Double) {
        count += 1
        sum += seconds
        if let i = Self.bounds.firstIndex(where: { seconds <= $0 }) { counts[i] += 1 }
    }

    func add(to text: inout PrometheusText, name: String, help: String, labels: [(String, String)]) {
        var cumulative: UInt64 = 0
        for (i, bound) in Self.bounds.enumerated() {
            cumulative += counts[i]
            text.add(
                name, .histogram, help, labels: labels + [("le", PrometheusText.format(bound))],
                value: Double(cumulative), suffix: "_bucket")
        }
        text.add(name, .histogram, help, labels: labels + [("le", "+Inf")], value: Double(count), suffix: "_bucket")
        text.add(name, .histogram, help, labels: labels, value: sum, suffix: "_sum")
        text.add(name, .histogram, help, labels: labels, value: Double(count), suffix: "_count")
    }
}

extension APIHandler {
    /// Everything in one scrape: this process's HTTP figures, the queue (read from Redis now), the
    /// pipeline's totals (kept by the Lua scripts), and every `--scrape` service's figures.
    func metrics(_ respond: @escaping (HTTPResponse) -> Void) {
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
        for (name, value) in stats.figures().sorted(by: { $0.key < $1.key }) {
            text.add("alertmesh_" + name, .counter, Stats.help[name] ?? name, value: value)
        }
        text.add("alertmesh_redis_up", .gauge, "Whether Redis is connected.", value: queue.redis.isConnected ? 1 : 0)
        if let shedder {
            let shedHelp = "Submits answered 429 to keep Redis from running out of memory, by why."
            text.add(
                "alertmesh_submits_shed_total", .counter, shedHelp, labels: [("reason", "backlog")],
                value: Double(shedder.shedForBacklog))
            text.add(
                "alertmesh_submits_shed_total", .counter, shedHelp, labels: [("reason", "memory")],
                value: Double(shedder.shedForMemory))
            text.add(
                "alertmesh_shedding", .gauge, "Whether submits are being shed (429) now.",
                value: shedder.reason == nil ? 0 : 1)
            text.add(
                "alertmesh_queue_backlog", .gauge, "Tasks waiting or in work: stream entries + delayed retries.",
                value: Double(shedder.backlog))
            if let limit = shedder.backlogLimit {
                text.add(
                    "alertmesh_queue_backlog_limit", .gauge, "The backlog past which submits get 429.",
                    value: Double(limit))
            }
            text.add(
                "alertmesh_redis_memory_used_bytes", .gauge, "Redis's used_memory.", value: Double(shedder.usedMemory))
            text.add(
                "alertmesh_redis_maxmemory_bytes", .gauge, "Redis's maxmemory (0: none).",
                value: Double(shedder.maxMemory))
        }
        for (name, value) in (figuresProvider?() ?? [:]).sorted(by: { $0.key < $1.key }) {
            text.add(
                PrometheusText.name("alertmesh_", name), name.hasSuffix("_total") ? .counter : .gauge,
                "api-service: \(name.replacing("_", with: " ")).", labels: [("service", "api-service")],
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
        depth.get { result in
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
                let oldestAge = d.oldestDeadMs.map { max(0, Double(WallClock.nowMs() - $0) / 1_000) } ?? 0
                text.add(
                    "alertmesh_dead_letter_oldest_age_seconds", .gauge,
                    "Age of the oldest dead letter (0 when there is none).", value: oldestAge)
                text.add(
                    "alertmesh_queue_consumers", .gauge, "Consumers (workers) in the group.", value: Double(d.consumers)
                )
            }
            finish()
        }
        counters.get { result in
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
                // A summary (quantiles the service keeps since it started, and the call count; the
                // service keeps no latency sum).
                let help = "RPC latency quantiles since start, in seconds."
                for (q, v) in [("0.5", m.latencyP50Ms), ("0.9", m.latencyP90Ms), ("0.99", m.latencyP99Ms)] {
                    text.add(
                        "alertmesh_rpc_latency_seconds", .summary, help,
                        labels: labels + [("method", m.method), ("quantile", q)], value: v / 1_000)
                }
                text.add(
                    "alertmesh_rpc_latency_seconds", .summary, help, labels: labels + [("method", m.method)],
                    value: Double(m.byStatus.values.reduce(0, +)), suffix: "_count")
            }
            var figures = s.figures
            addHistograms(from: &figures, labels: labels, to: &text)
            for (name, value) in figures.sorted(by: { $0.key < $1.key }) {
                text.add(
                    PrometheusText.name("alertmesh_", name), name.hasSuffix("_total") ? .counter : .gauge,
                    "\(name.replacing("_", with: " ")).", labels: labels, value: value)
            }
        }
    }

    /// Histograms a service exports as figures — `<name>_bucket:le=<bound>` (cumulative),
    /// `<name>_sum`, `<name>_count`, as `TaskQueue.E2EHistogram` does — rendered as one histogram
    /// family with buckets in ascending order; they are taken out of `figures`.
    static func addHistograms(
        from figures: inout [String: Double], labels: [(String, String)], to text: inout PrometheusText
    ) {
        var buckets: [String: [(le: String, bound: Double, value: Double)]] = [:]
        for (key, value) in figures {
            guard let r = key.firstRange(of: "_bucket:le=") else { continue }
            let le = String(key[r.upperBound...])
            let bound = le == "+Inf" ? Double.infinity : Double(le)
            guard let bound else { continue }
            buckets[String(key[..<r.lowerBound]), default: []].append((le, bound, value))
            figures[key] = nil
        }
        for (base, list) in buckets.sorted(by: { $0.key < $1.key }) {
            let name = PrometheusText.name("alertmesh_", base)
            let help = "\(base.replacing("_", with: " ")), as a histogram."
            for b in list.sorted(by: { $0.bound < $1.bound }) {
                text.add(name, .histogram, help, labels: labels + [("le", b.le)], value: b.value, suffix: "_bucket")
            }
            for suffix in ["_sum", "_count"] {
                text.add(name, .histogram, help, labels: labels, value: figures[base + suffix] ?? 0, suffix: suffix)
                figures[base + suffix] = nil
            }
        }
    }
}
