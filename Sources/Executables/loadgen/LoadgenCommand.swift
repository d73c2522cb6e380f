// loadgen: the load test's generator (scripts/loadtest runs it): submits, follows, reports.

import ArgumentParser
import FoundationEssentials
import Glibc
import LoadGenerator
import MeshLoop
import MeshOptions

@main
struct LoadgenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loadgen",
        abstract: "Load-test an alertmesh-compatible HTTP API and follow every task to its end.",
        discussion: """
            Closed loop: --tasks N at --concurrency C. Open loop: --rate R tasks/s for --duration S \
            (submit latency counted from each request's intended start). Exit status 1 when any \
            accepted task is lost (not finished within --timeout) or has wrong alerts (not what the \
            detector finds locally in the same message).
            """)

    @Option(help: ArgumentHelp("The API's base URL.", valueName: "url"))
    var url: String = "http://127.0.0.1:8080"

    @Option(help: "Closed loop: submit this many tasks.")
    var tasks: Int?

    @Option(help: "Open loop: tasks per second (with --duration).")
    var rate: Double?

    @Option(help: "Open loop: seconds to submit for.")
    var duration: Double = 10

    @Option(help: "Connections submitting (closed loop: requests in flight).")
    var concurrency: Int = 32

    @Option(help: "Seed of the message mix (same seed, same messages).")
    var seed: UInt64 = 1

    @Option(help: "Share of messages with something to find (0...1).")
    var alertShare: Double = 0.25

    @Option(help: "Smallest and largest message, in bytes (log-uniform between).")
    var minBytes: Int = 20
    @Option(help: "Largest message, in bytes.")
    var maxBytes: Int = 4096

    @Option(
        help:
            "Distinct messages, prepared before the clock starts and sent in turn (each checked against the detector).")
    var distinctMessages: Int = 4_096

    @Option(help: "Seconds to wait after the last submit for every task to finish.")
    var timeout: Double = 60

    @Option(help: "Status polls per second at most while submitting (afterwards as fast as answers come).")
    var pollRate: Double = 500

    @Flag(help: "Print the report as one JSON object.")
    var json = false

    static func main() { mainWithEnvironment() }

    func validate() throws {
        guard (tasks == nil) != (rate == nil) else {
            throw ValidationError("give --tasks N or --rate R (with --duration S)")
        }
        if let tasks, tasks < 0 { throw ValidationError("--tasks: must not be negative") }
        if let rate, !(rate > 0 && rate.isFinite) { throw ValidationError("--rate: must be positive") }
        guard duration > 0, timeout > 0 else { throw ValidationError("--duration, --timeout: must be positive") }
        guard concurrency > 0 && concurrency <= 10_000 else { throw ValidationError("--concurrency: 1...10000") }
        guard alertShare >= 0 && alertShare <= 1 else { throw ValidationError("--alert-share: 0...1") }
        guard minBytes > 0, maxBytes >= minBytes, maxBytes <= 512 << 10 else {
            throw ValidationError("--min-bytes/--max-bytes: 1 <= min <= max <= 524288")
        }
        guard pollRate.isFinite && pollRate >= 1 else { throw ValidationError("--poll-rate: at least 1") }
        guard distinctMessages >= 1 && distinctMessages <= 1_000_000 else {
            throw ValidationError("--distinct-messages: 1...1000000")
        }
        _ = try endpoint()
    }

    func endpoint() throws -> Endpoint {
        var rest = Substring(url)
        guard rest.hasPrefix("http://") else { throw ValidationError("--url: only http:// URLs") }
        rest = rest.dropFirst(7)
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if !rest.contains(":") { rest += ":80" }
        do {
            return try Endpoint(parsing: String(rest))
        } catch {
            throw ValidationError("--url: \(error)")
        }
    }

    func run() throws {
        let loop = try EventLoop()
        var config = LoadRun.Configuration(endpoint: try endpoint())
        config.tasks = tasks
        config.rate = rate
        config.durationSeconds = duration
        config.concurrency = concurrency
        config.seed = seed
        config.alertShare = alertShare
        config.minBytes = minBytes
        config.maxBytes = maxBytes
        config.timeoutSeconds = timeout
        config.pollRate = pollRate
        config.distinctMessages = distinctMessages
        let run = LoadRun(loop: loop, configuration: config)
        run.onProgress = { line in
            let bytes = Array((line + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        }
        var result: LoadRun.Report?
        try run.start { result = $0 }
        loop.run(until: { result != nil })
        loop.runUntilHandlesClosed()
        let r = result!
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(r), as: UTF8.self))
        } else {
            print(Self.text(r))
        }
        if r.lost > 0 || r.wrong > 0 { throw ExitCode(1) }
    }

    static func text(_ r: LoadRun.Report) -> String {
        func f(_ v: Double) -> String { LoadRun.decimal(v) }
        let errors =
            r.errors.isEmpty
            ? "none" : r.errors.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        return """
            mode:        \(r.mode) loop
            submitted:   \(r.submitted) (accepted \(r.accepted)) in \(f(r.submit_seconds)) s: \(f(r.submit_per_s)) submits/s
            submit ms:   p50 \(f(r.submit_p50_ms))  p90 \(f(r.submit_p90_ms))  p99 \(f(r.submit_p99_ms))  p99.9 \(f(r.submit_p999_ms))  max \(f(r.submit_max_ms))
            completed:   \(r.completed) SUCCESS, \(r.failed) FAILURE: \(f(r.completed_per_s)) tasks/s end to end
            e2e ms:      p50 \(f(r.e2e_p50_ms))  p90 \(f(r.e2e_p90_ms))  p99 \(f(r.e2e_p99_ms))  max \(f(r.e2e_max_ms))  (\(r.e2e_clock) clock)
            errors:      \(errors)
            lost:        \(r.lost)
            wrong:       \(r.wrong)
            status polls: \(r.polls)
            """
    }
}
