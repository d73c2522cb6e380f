// LoadRun: drives an alertmesh-compatible HTTP API and follows every task to its end.

import Alerts
import FoundationEssentials
import Glibc
import Histogram
import MeshHTTP
import MeshJSON
public import MeshLoop
import MeshTime

/// One load test: submits (closed loop: N tasks at concurrency C; or open loop: R tasks/s for S
/// seconds, latency measured from each request's *intended* start so a slow server cannot hide
/// queueing — no coordinated omission), then follows every accepted task to SUCCESS or FAILURE.
///
/// Following does not dominate the load: status polls go over a few connections of their own at a
/// bounded rate, mostly to a probe until it shows the mesh has caught up (see `poll()`), and a
/// task's end-to-end time is taken from its `updated_at` (the server's clock at the moment it
/// finished) minus the submit's intended start — so polling late does not inflate it.
/// Client and server share a clock here (same host); across hosts their skew adds to it.
public final class LoadRun {
    public struct Configuration: Sendable {
        public var endpoint: Endpoint
        /// Closed loop: this many tasks.
        public var tasks: Int?
        /// Open loop: this many tasks per second for `durationSeconds`.
        public var rate: Double?
        public var durationSeconds: Double = 10
        public var concurrency = 32
        public var seed: UInt64 = 1
        public var alertShare = 0.25
        public var minBytes = 20
        public var maxBytes = 4096
        /// How long after the last submit to wait for every task's end.
        public var timeoutSeconds: Double = 60
        public var pollConnections = 4
        /// Status polls per second while submitting (unbounded once submitting is over).
        public var pollRate: Double = 500
        /// Distinct messages, prepared (request body and the alerts the detector expects) before the
        /// clock starts and used in turn, so the generator spends its CPU on requests, not on
        /// composing and checking messages — it shares the machine with what it measures.
        public var distinctMessages = 4_096

        public init(endpoint: Endpoint) { self.endpoint = endpoint }
    }

    struct Task {
        /// Index of its message in `prepared`.
        var message: Int
        var intendedWallMs: Double
        var lastPollMs: UInt64 = 0
    }

    public let loop: EventLoop
    public let configuration: Configuration
    /// Called every second with a one-line summary.
    public var onProgress: ((String) -> Void)?

    let submitClient: HTTPClient
    let pollClient: HTTPClient
    var mix: MessageMix
    /// The messages, ready to send, with the alerts each must get.
    var prepared: [(body: [UInt8], expected: [String])] = []
    var submitLatency = Histogram<UInt64>(
        highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    var e2eLatency = Histogram<UInt64>(
        highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    var report = Report()
    var pending: [String: Task] = [:]
    var pollOrder: [String] = []
    var pollCursor = 0
    /// The sweep under way (nil while probing): it ends at index `end` of `pollOrder`, or after
    /// `left` more polls in a sweep of the oldest tasks (nil: a full sweep, after a finished probe).
    var sweep: (end: Int, left: Int?)?
    var probeInFlight = false
    var lastHeadSweepMs: UInt64 = 0
    var pollsInFlight = 0
    /// One decoder for every status answer (not one allocated per answer).
    let statusDecoder = JSONDecoder()
    var issued = 0
    var answered = 0
    var startNs: UInt64 = 0
    var startWallMs: Double = 0
    var submitEndNs: UInt64?
    var firstSubmitWallMs = Double.greatestFiniteMagnitude
    var lastDoneWallMs: Double = 0
    /// Finished tasks whose status had no `updated_at`: timed by the client's clock.
    var clientTimed = 0
    var ticker: LoopTimer?
    var poller: LoopTimer?
    var progress: LoopTimer?
    var completion: ((Report) -> Void)?
    var pollBudget: Double = 0

    public init(loop: EventLoop, configuration: Configuration) {
        self.loop = loop
        self.configuration = configuration
        submitClient = HTTPClient(
            loop: loop, endpoint: configuration.endpoint, maxConnections: configuration.concurrency)
        pollClient = HTTPClient(
            loop: loop, endpoint: configuration.endpoint, maxConnections: configuration.pollConnections)
        mix = MessageMix(
            seed: configuration.seed, alertShare: configuration.alertShare, minBytes: configuration.minBytes,
            maxBytes: configuration.maxBytes)
    }

    var total: Int {
        if let tasks = configuration.tasks { return tasks }
        return Int((configuration.rate ?? 0) * configuration.durationSeconds)
    }

    public func start(_ completion: @escaping (Report) -> Void) throws {
        self.completion = completion
        let detector = Detector()
        prepared = (0..<max(1, min(total, configuration.distinctMessages))).map { _ in
            let message = mix.next()
            var body: [UInt8] = Array(#"{"message":"#.utf8)
            JSONText.appendString(message, to: &body)
            body.append(UInt8(ascii: "}"))
            return (body, detector.scan(message, maxFindings: 0).alerts.sorted.map(\.rawValue))
        }
        report.mode = configuration.tasks != nil ? "closed" : "open"
        startNs = EventLoop.hrtimeNs()
        startWallMs = Self.wallMs()
        ticker = try LoopTimer(loop: loop)
        poller = try LoopTimer(loop: loop)
        progress = try LoopTimer(loop: loop)
        if configuration.tasks != nil {
            for _ in 0..<min(configuration.concurrency, total) { submitNext(intendedNs: EventLoop.hrtimeNs()) }
        } else {
            ticker?.start(afterMs: 0, repeatMs: 1) { [unowned self] in self.releaseDue() }
        }
        poller?.start(afterMs: 20, repeatMs: 20) { [unowned self] in self.tick() }
        progress?.start(afterMs: 1_000, repeatMs: 1_000) { [unowned self] in self.onProgress?(self.line()) }
        if total == 0 { finishSubmitting() }
    }

    static func wallMs() -> Double { Double(WallClock.nowNs()) / 1e6 }

    // MARK: Submitting

    /// Open loop: issues every request whose time has come (`i / rate` after the start).
    func releaseDue() {
        guard let rate = configuration.rate else { return }
        let elapsed = Double(EventLoop.hrtimeNs() - startNs) / 1e9
        let due = min(total, Int(elapsed * rate))
        while issued < due {
            let intended = startNs + UInt64(Double(issued) / rate * 1e9)
            submitNext(intendedNs: intended)
        }
        if issued >= total { ticker?.stop() }
    }

    func submitNext(intendedNs: UInt64) {
        guard issued < total else { return }
        issued += 1
        report.submitted += 1
        let message = (issued - 1) % prepared.count
        let intendedWallMs = startWallMs + Double(intendedNs - startNs) / 1e6
        firstSubmitWallMs = min(firstSubmitWallMs, intendedWallMs)
        submitClient.send(
            method: "POST", path: "/submit", headers: [("Content-Type", "application/json")],
            body: prepared[message].body
        ) { [unowned self] result in
            let latencyUs = (EventLoop.hrtimeNs() &- intendedNs) / 1_000
            self.submitLatency.record(max(1, latencyUs))
            self.answered += 1
            switch result {
            // Any 2xx with a task id is an accepted submit: ours answers 202, others 200 or 201.
            case .success(let response) where (200..<300).contains(response.status):
                if let id = Self.taskID(response) {
                    self.report.accepted += 1
                    self.pending[id] = Task(message: message, intendedWallMs: intendedWallMs)
                    self.pollOrder.append(id)
                } else {
                    self.report.errors["\(response.status) without task_id", default: 0] += 1
                }
            case .success(let response):
                self.report.errors[String(response.status), default: 0] += 1
            case .failure(let error):
                self.report.errors["\(error)".prefix(60).description, default: 0] += 1
            }
            if self.configuration.tasks != nil { self.submitNext(intendedNs: EventLoop.hrtimeNs()) }
            if self.answered == self.total { self.finishSubmitting() }
        }
    }

    /// The new task's id: from `Location: …/status/{id}` when the API sends it (ours does; a
    /// header costs nothing to read, decoding the body was a tenth of the load generator's CPU),
    /// else from the body's `task_id`.
    static func taskID(_ response: HTTPClientResponse) -> String? {
        if let location = response.headers["Location"] {
            // By bytes: splitting the String by Characters was a twentieth of the load generator.
            let bytes = location.utf8
            if let slash = bytes.lastIndex(of: UInt8(ascii: "/")) {
                let id = location[bytes.index(after: slash)...]
                let head = bytes[..<slash]
                if !id.isEmpty, !id.utf8.contains(UInt8(ascii: "?")), head.count >= 7,
                    head.suffix(7).elementsEqual("/status".utf8)
                {
                    return String(id)
                }
            }
        }
        struct Accepted: Decodable { var task_id: String }
        return (try? JSONDecoder().decode(Accepted.self, from: Data(response.body)))?.task_id
    }

    func finishSubmitting() {
        submitEndNs = EventLoop.hrtimeNs()
        ticker?.stop()
        let deadline = UInt64(configuration.timeoutSeconds * 1000)
        ticker?.start(afterMs: deadline) { [unowned self] in self.finish() }
        if pending.isEmpty { finish() }
    }

    // MARK: Ending

    func line() -> String {
        let t = Double(EventLoop.hrtimeNs() - startNs) / 1e9
        let errors: Int = report.errors.values.reduce(0, +)
        let done: Int = report.completed + report.failed
        let p99: Double = Double(submitLatency.valueAtPercentile(99)) / 1000
        let seconds = String(Int(t.rounded()))
        let p99Text = LoadRun.decimal(p99)
        return "t=\(seconds)s submitted=\(report.submitted) accepted=\(report.accepted) completed=\(done) "
            + "pending=\(pending.count) errors=\(errors) submit p99=\(p99Text) ms"
    }

    func finish() {
        guard let completion else { return }
        self.completion = nil
        ticker?.close()
        poller?.close()
        progress?.close()
        submitClient.close()
        pollClient.close()
        report.lost = pending.count
        let submitSeconds = Double((submitEndNs ?? EventLoop.hrtimeNs()) - startNs) / 1e9
        report.submit_seconds = submitSeconds
        report.submit_per_s = Double(report.accepted) / max(submitSeconds, 1e-9)
        func ms(_ h: Histogram<UInt64>, _ p: Double) -> Double {
            h.totalCount == 0 ? 0 : Double(h.valueAtPercentile(p)) / 1000
        }
        report.submit_p50_ms = ms(submitLatency, 50)
        report.submit_p90_ms = ms(submitLatency, 90)
        report.submit_p99_ms = ms(submitLatency, 99)
        report.submit_p999_ms = ms(submitLatency, 99.9)
        report.submit_max_ms = submitLatency.totalCount == 0 ? 0 : Double(submitLatency.max) / 1000
        let span = (lastDoneWallMs - firstSubmitWallMs) / 1000
        report.completed_per_s = span > 0 ? Double(report.completed + report.failed) / span : 0
        report.e2e_p50_ms = ms(e2eLatency, 50)
        report.e2e_p90_ms = ms(e2eLatency, 90)
        report.e2e_p99_ms = ms(e2eLatency, 99)
        report.e2e_max_ms = e2eLatency.totalCount == 0 ? 0 : Double(e2eLatency.max) / 1000
        let timed = report.completed + report.failed
        report.e2e_clock = clientTimed == 0 ? "server" : clientTimed == timed ? "client" : "server and client"
        completion(report)
    }
}
