// LogShipper: takes log events from any thread and writes them — to a rotating file, to stderr,
// and as batched InfluxDB line protocol over UDP — from a thread of its own.

import Glibc
import MeshTime
import Synchronization

/// Ships log events without ever blocking the code that logs.
///
/// `enqueue` takes a lock for the time of an array append and returns; when the bounded queue is
/// full the event is dropped and counted (and the count is itself logged, and reported in stats).
/// A background thread wakes when events arrive or every `flushIntervalMs`, and:
/// - appends logfmt lines to the service's file, rotating it by size (`service.log.1` …
///   `service.log.N`), reopening it on `reopen()` (SIGHUP, for logrotate);
/// - writes the same lines to stderr when asked (interactive runs);
/// - packs InfluxDB line protocol (`log_event`, tags `service`, `level`, `host`) into datagrams of
///   at most `datagramBytes`, never splitting a line, sent when full or on the interval to a
///   non-blocking UDP socket. InfluxDB being away changes nothing: `sendto` to a closed port fails
///   quietly (counted) and nothing waits.
///
/// ```swift
/// let shipper = try LogShipper(configuration: .init(service: "worker", filePath: "data/logs/worker.log"))
/// LoggingSystem.bootstrap { label in MeshLogHandler(label: label, shipper: shipper) }
/// ```
public final class LogShipper: Sendable {
    public struct Configuration: Sendable {
        public var service: String
        public var host: String
        /// The log file; nil for none.
        public var filePath: String?
        public var maxFileBytes: Int = 64 << 20
        /// Rotated files kept next to the live one.
        public var keptFiles = 5
        public var stderr = false
        /// `host:port` of influxd's UDP listener; nil sends nothing.
        public var influxHost: String?
        public var influxPort: UInt16 = 8089
        public var datagramBytes = 8 * 1024
        public var flushIntervalMs = 100
        /// Queued events that wake the writer before its interval is up. The writer is not woken
        /// per event: under load a wake-up (a futex call and two context switches) per log line
        /// would cost more than the line; batches of this size cost one write and a few datagrams.
        public var wakeAfterEvents = 512
        /// Events waiting to be written; past it new ones are dropped and counted.
        public var queueCapacity = 65_536
        /// Applied to messages and metadata values before they leave the process: a safety net
        /// that masks what the detectors recognise (e-mail addresses, card numbers).
        public var redact: (@Sendable (String) -> String)?
        /// Metadata keys whose values the services generate themselves (ids, figures): never
        /// redacted, so a task id that happens to look like a card number stays findable.
        public var redactionExempt: Set<String> = [
            "task_id", "entry", "consumer", "worker", "attempt", "attempts", "duration_ms", "delay_ms", "scan_us",
            "bytes", "count", "in_flight", "concurrency", "report", "alerts", "signal", "dropped", "dropped_total",
        ]

        public init(service: String, host: String = LogShipper.hostName(), filePath: String? = nil) {
            self.service = service
            self.host = host
            self.filePath = filePath
        }
    }

    /// Counters, read with `stats`.
    public struct Stats: Sendable, Hashable {
        public var events: UInt64 = 0
        public var dropped: UInt64 = 0
        public var fileLines: UInt64 = 0
        public var fileBytes: UInt64 = 0
        public var fileErrors: UInt64 = 0
        public var rotations: UInt64 = 0
        public var datagramsSent: UInt64 = 0
        public var udpBytesSent: UInt64 = 0
        public var udpErrors: UInt64 = 0
        public var linesSent: UInt64 = 0
        public var oversizedDropped: UInt64 = 0

        /// The counters under their metric names, for `_sys.Stats` and `/metrics`.
        public func figures() -> [String: Double] {
            [
                "log_events_total": Double(events), "log_events_dropped_total": Double(dropped),
                "log_file_bytes_total": Double(fileBytes), "log_file_errors_total": Double(fileErrors),
                "log_datagrams_sent_total": Double(datagramsSent), "log_bytes_sent_total": Double(udpBytesSent),
                "log_udp_errors_total": Double(udpErrors), "log_lines_sent_total": Double(linesSent),
            ]
        }
    }

    public let configuration: Configuration
    private let state: Mutex<SharedState>
    /// The writer waits on it for events; `enqueue` signals it when a batch is ready.
    private let wake = ThreadCondition()
    /// Flushes wait on it for the writer to pass their generation.
    private let flushed = ThreadCondition()
    private let writer: LogWriter

    struct SharedState: ~Copyable {
        var queue: [LogRecord] = []
        var stats = Stats()
        var stopping = false
        var reopen = false
        var flushRequested = 0
        var flushedGeneration = 0
    }

    public init(configuration: Configuration) throws(LogError) {
        self.configuration = configuration
        state = Mutex(SharedState())
        writer = try LogWriter(configuration: configuration)
        let thread = Thread { [self] in self.runWriter() }
        thread.start()
    }

    public static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Queues an event; never blocks beyond a short lock.
    public func enqueue(_ event: LogRecord) {
        let threshold = configuration.wakeAfterEvents
        let wake = state.withLock { s -> Bool in
            if s.queue.count >= configuration.queueCapacity {
                s.stats.dropped += 1
                return false
            }
            s.stats.events += 1
            s.queue.append(event)
            return s.queue.count == threshold
        }
        if wake { self.wake.signal() }
    }

    public var stats: Stats { state.withLock { $0.stats } }

    /// Reopens the log file (after logrotate moved it: SIGHUP).
    public func reopen() {
        state.withLock { $0.reopen = true }
        wake.signal()
    }

    /// Waits until everything queued so far is written and sent (tests, shutdown). After
    /// `shutdown()` there is nothing left to wait for.
    public func flush() {
        let generation = state.withLock { s -> Int? in
            guard !s.stopping else { return nil }
            s.flushRequested += 1
            return s.flushRequested
        }
        guard let generation else { return }
        wake.signal()
        flushed.wait(until: { state.withLock { $0.flushedGeneration >= generation } })
    }

    /// Flushes and stops the writer thread.
    public func shutdown() {
        flush()
        state.withLock { $0.stopping = true }
        wake.signal()
    }

    private func runWriter() {
        var lastDropped: UInt64 = 0
        var batch: [LogRecord] = []
        while true {
            wake.wait(timeoutMs: configuration.flushIntervalMs)
            let (events, reopen, stopping, flushTo, dropped) = state.withLock {
                s -> ([LogRecord], Bool, Bool, Int, UInt64) in
                swap(&batch, &s.queue)
                let r = s.reopen
                s.reopen = false
                return (batch, r, s.stopping, s.flushRequested, s.stats.dropped)
            }
            batch = []
            if reopen { writer.reopen() }
            var all = events
            if dropped > lastDropped {
                // Say so in the log itself (the queue had room again by now).
                all.append(
                    LogRecord(
                        timestampNs: WallClock.nowNs(), level: "warning",
                        message: "log events dropped: the queue was full",
                        metadata: [
                            ("dropped", String(dropped - lastDropped)), ("dropped_total", String(dropped)),
                        ]))
                lastDropped = dropped
            }
            writer.write(all)
            writer.flush()
            state.withLock { s in
                writer.takeStats(into: &s.stats)
                s.flushedGeneration = max(s.flushedGeneration, flushTo)
            }
            flushed.broadcast()
            if stopping {
                writer.close()
                return
            }
        }
    }

}

/// Why logging could not be set up.
public struct LogError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
