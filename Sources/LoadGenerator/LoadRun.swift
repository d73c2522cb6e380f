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

    /// What a run measured (`--json` prints it).
    public struct Report: Codable, Sendable {
        public var mode = ""
        public var submitted = 0
        public var accepted = 0
        public var completed = 0
        public var failed = 0
        public var lost = 0
        public var wrong = 0
        public var errors: [String: Int] = [:]
        public var submit_seconds = 0.0
        public var submit_per_s = 0.0
        public var submit_p50_ms = 0.0
        public var submit_p90_ms = 0.0
        public var submit_p99_ms = 0.0
        public var submit_p999_ms = 0.0
        public var submit_max_ms = 0.0
        public var completed_per_s = 0.0
        public var e2e_p50_ms = 0.0
        public var e2e_p90_ms = 0.0
        public var e2e_p99_ms = 0.0
        public var e2e_max_ms = 0.0
        public var polls = 0
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

    private let submitClient: HTTPClient
    private let pollClient: HTTPClient
    private var mix: MessageMix
    /// The messages, ready to send, with the alerts each must get.
    private var prepared: [(body: [UInt8], expected: [String])] = []
    private var submitLatency = Histogram<UInt64>(
        highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    private var e2eLatency = Histogram<UInt64>(
        highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    private var report = Report()
    private var pending: [String: Task] = [:]
    private var pollOrder: [String] = []
    private var pollCursor = 0
    /// The sweep under way (nil while probing): it ends at index `end` of `pollOrder`, or after
    /// `left` more polls in a sweep of the oldest tasks (nil: a full sweep, after a finished probe).
    private var sweep: (end: Int, left: Int?)?
    private var probeInFlight = false
    private var lastHeadSweepMs: UInt64 = 0
    private var pollsInFlight = 0
    /// One decoder for every status answer (not one allocated per answer).
    private let statusDecoder = JSONDecoder()
    private var issued = 0
    private var answered = 0
    private var startNs: UInt64 = 0
    private var startWallMs: Double = 0
    private var submitEndNs: UInt64?
    private var firstSubmitWallMs = Double.greatestFiniteMagnitude
    private var lastDoneWallMs: Double = 0
    private var ticker: LoopTimer?
    private var poller: LoopTimer?
    private var progress: LoopTimer?
    private var completion: ((Report) -> Void)?
    private var pollBudget: Double = 0

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

    private var total: Int {
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
    private func releaseDue() {
        guard let rate = configuration.rate else { return }
        let elapsed = Double(EventLoop.hrtimeNs() - startNs) / 1e9
        let due = min(total, Int(elapsed * rate))
        while issued < due {
            let intended = startNs + UInt64(Double(issued) / rate * 1e9)
            submitNext(intendedNs: intended)
        }
        if issued >= total { ticker?.stop() }
    }

    private func submitNext(intendedNs: UInt64) {
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
            case .success(let response) where response.status == 202:
                if let id = Self.taskID(response) {
                    self.report.accepted += 1
                    self.pending[id] = Task(message: message, intendedWallMs: intendedWallMs)
                    self.pollOrder.append(id)
                } else {
                    self.report.errors["202 without task_id", default: 0] += 1
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

    private func finishSubmitting() {
        submitEndNs = EventLoop.hrtimeNs()
        ticker?.stop()
        let deadline = UInt64(configuration.timeoutSeconds * 1000)
        ticker?.start(afterMs: deadline) { [unowned self] in self.finish() }
        if pending.isEmpty { finish() }
    }

    // MARK: Following

    struct Status: Decodable {
        struct Result: Decodable { var alerts: [String] }
        var state: String
        var updated_at: String
        var result: Result?

        /// SUCCESS or FAILURE: the task will not change again.
        var isFinished: Bool { state == "SUCCESS" || state == "FAILURE" }
    }

    /// Adds the budget of one poller tick (every 20 ms) while submitting.
    private func tick() {
        if submitEndNs == nil {
            pollBudget = min(pollBudget + configuration.pollRate * 0.02, max(1, configuration.pollRate / 10))
        }
        poll()
    }

    /// Polls, without letting polling compete with the work it follows. The stream is worked
    /// first in, first out: while a recent task (the probe) is unfinished, the others mostly are
    /// too, so only the probe is asked, once a tick, plus a share of the oldest every second (a
    /// task being retried falls behind). Once a probe is finished, one sweep asks every pending
    /// task older than it. So a closed-loop run asks about each task about once, mostly after the
    /// mesh has finished it, instead of over and over while the mesh is busy.
    private func poll() {
        let now = loop.nowMs
        let limit = configuration.pollConnections * 2
        if submitEndNs != nil {
            pollBudget = .greatestFiniteMagnitude  // submitting is over: follow as fast as answers come
        }
        if sweep == nil && now >= lastHeadSweepMs + 1_000 {
            // The oldest pending tasks, a twentieth of them a second (at least 64): a task stuck
            // behind an unfinished probe is still seen well within the default timeout.
            lastHeadSweepMs = now
            pollCursor = 0
            sweep = (pollOrder.count, max(64, pending.count / 20))
        }
        guard let (end, _) = sweep else {
            // Probing: the newest pending task sent at least 50 ms ago (a younger one cannot be
            // finished yet in any mesh worth measuring) and not asked within the last second (so a
            // task that never finishes does not hold the probe: the next one back is asked).
            while let last = pollOrder.last, pending[last] == nil { pollOrder.removeLast() }
            guard !probeInFlight, pollsInFlight < limit, pollBudget >= 1 else { return }
            let sentBefore = Self.wallMs() - 50
            var k = pollOrder.count - 1
            var probe: String?
            while k >= max(0, pollOrder.count - 4_096) {
                if let task = pending[pollOrder[k]], task.intendedWallMs <= sentBefore, now >= task.lastPollMs + 1_000 {
                    probe = pollOrder[k]
                    break
                }
                k -= 1
            }
            guard let id = probe else { return }
            probeInFlight = true
            ask(id, now: now) { [unowned self] finished in
                self.probeInFlight = false
                if finished {
                    // First in, first out: the tasks older than a finished one have most likely
                    // finished too. One sweep asks them all.
                    self.pollCursor = 0
                    self.sweep = (min(k + 1, self.pollOrder.count), nil)
                }
            }
            return
        }
        while pollsInFlight < limit, pollBudget >= 1 {
            guard pollCursor < min(end, pollOrder.count), sweep?.left != 0 else {
                // The sweep is done; after a full one, drop the finished tasks (cheaper than
                // removing each as it ends).
                if sweep?.left == nil { pollOrder.removeAll { pending[$0] == nil } }
                sweep = nil
                pollCursor = 0
                return
            }
            let id = pollOrder[pollCursor]
            pollCursor += 1
            // A task is not asked again within 100 ms.
            guard let task = pending[id], now >= task.lastPollMs + 100 else { continue }
            if let left = sweep?.left { sweep?.left = left - 1 }
            ask(id, now: now) { _ in }
        }
    }

    /// One status poll; `then` learns whether the task has finished.
    private func ask(_ id: String, now: UInt64, then: @escaping (Bool) -> Void) {
        pending[id]?.lastPollMs = now
        pollBudget -= 1
        pollsInFlight += 1
        report.polls += 1
        pollClient.send(method: "GET", path: "/status/\(id)") { [unowned self] result in
            self.pollsInFlight -= 1
            var finished = false
            if case .success(let response) = result, response.status == 200,
                let status = try? self.statusDecoder.decode(Status.self, from: Data(response.body))
            {
                finished = status.isFinished
                self.observe(id, status)
            }
            then(finished)
            if self.completion != nil { self.poll() }  // keep the pollers busy, within the budget
        }
    }

    private func observe(_ id: String, _ status: Status) {
        guard status.isFinished, let task = pending.removeValue(forKey: id) else {
            return
        }
        let doneMs = Self.parseRFC3339(status.updated_at) ?? Self.wallMs()
        lastDoneWallMs = max(lastDoneWallMs, doneMs)
        e2eLatency.record(UInt64(max(1, (doneMs - task.intendedWallMs) * 1000)))
        if status.state == "SUCCESS" {
            report.completed += 1
            if status.result?.alerts.sorted() != prepared[task.message].expected { report.wrong += 1 }
        } else {
            report.failed += 1
        }
        if submitEndNs != nil && pending.isEmpty { finish() }
    }

    /// `12.3`: one decimal, without Foundation's formatter.
    public static func decimal(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(abs(tenths % 10))"
    }

    /// `2026-11-29T15:19:04.245Z` → ms since the epoch.
    static func parseRFC3339(_ s: String) -> Double? {
        let u = Array(s.utf8)
        guard u.count >= 24 else { return nil }
        func n(_ a: Int, _ b: Int) -> Int? { Int(String(decoding: u[a..<b], as: UTF8.self)) }
        guard let y = n(0, 4), let mo = n(5, 7), let d = n(8, 10), let h = n(11, 13), let mi = n(14, 16),
            let se = n(17, 19), let ms = n(20, 23)
        else { return nil }
        // Days from civil (Howard Hinnant).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Double(((days * 24 + h) * 60 + mi) * 60 + se) * 1000 + Double(ms)
    }

    // MARK: Ending

    private func line() -> String {
        let t = Double(EventLoop.hrtimeNs() - startNs) / 1e9
        let errors: Int = report.errors.values.reduce(0, +)
        let done: Int = report.completed + report.failed
        let p99: Double = Double(submitLatency.valueAtPercentile(99)) / 1000
        let seconds = String(Int(t.rounded()))
        let p99Text = LoadRun.decimal(p99)
        return "t=\(seconds)s submitted=\(report.submitted) accepted=\(report.accepted) completed=\(done) "
            + "pending=\(pending.count) errors=\(errors) submit p99=\(p99Text) ms"
    }

    private func finish() {
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
        completion(report)
    }
}
