// LogShipper: takes log events from any thread and writes them — to a rotating file, to stderr,
// and as batched InfluxDB line protocol over UDP — from a thread of its own.

import Glibc
import Logging
import MeshTime
import Synchronization

/// One log event, as captured on the caller's thread (formatting happens later, off the hot path).
public struct LogRecord: Sendable {
    public var timestampNs: UInt64
    public var level: String
    public var message: String
    /// Key–value pairs in the order they are written.
    public var metadata: [(String, String)]
    /// swift-log metadata as the caller passed it; the writer thread turns it into `metadata`
    /// (sorted by key), so the caller pays for neither the sort nor the conversions.
    var swiftLogMetadata: Logger.Metadata?

    public init(timestampNs: UInt64, level: String, message: String, metadata: [(String, String)]) {
        self.timestampNs = timestampNs
        self.level = level
        self.message = message
        self.metadata = metadata
    }

    init(timestampNs: UInt64, level: String, message: String, swiftLogMetadata: Logger.Metadata) {
        self.timestampNs = timestampNs
        self.level = level
        self.message = message
        self.metadata = []
        self.swiftLogMetadata = swiftLogMetadata
    }

    /// Moves `swiftLogMetadata` into `metadata` (on the writer thread).
    mutating func normalize() {
        guard let m = swiftLogMetadata else { return }
        swiftLogMetadata = nil
        metadata.reserveCapacity(m.count)
        for (key, value) in m { metadata.append((key, MeshLogHandler.text(value))) }
        metadata.sort { $0.0 < $1.0 }
    }
}

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
    private let wake = Condition()
    private let writer: Writer

    struct SharedState: ~Copyable {
        var queue: [LogRecord] = []
        var stats = Stats()
        var stopping = false
        var reopen = false
        var flushRequested = 0
        var flushedGeneration = 0
        /// Tests hold the writer to fill the queue deterministically.
        var held = false
    }

    /// Holds (or releases) the writer thread; events only queue meanwhile. For tests.
    func hold(_ held: Bool) {
        state.withLock { $0.held = held }
        wake.signal()
    }

    public init(configuration: Configuration) throws(LogError) {
        self.configuration = configuration
        state = Mutex(SharedState())
        writer = try Writer(configuration: configuration)
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

    /// Waits until everything queued so far is written and sent (tests, shutdown).
    public func flush() {
        let generation = state.withLock { s -> Int in
            s.flushRequested += 1
            return s.flushRequested
        }
        wake.signal()
        while state.withLock({ $0.flushedGeneration < generation }) { usleep(1_000) }
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
            if state.withLock({ $0.held && !$0.stopping }) { continue }
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
            writer.flushDatagram()
            let delta = writer.takeStats()
            state.withLock { s in
                s.stats.fileLines += delta.fileLines
                s.stats.fileBytes += delta.fileBytes
                s.stats.fileErrors += delta.fileErrors
                s.stats.rotations += delta.rotations
                s.stats.datagramsSent += delta.datagramsSent
                s.stats.udpBytesSent += delta.udpBytesSent
                s.stats.udpErrors += delta.udpErrors
                s.stats.linesSent += delta.linesSent
                s.stats.oversizedDropped += delta.oversizedDropped
                s.flushedGeneration = max(s.flushedGeneration, flushTo)
            }
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

/// The writer thread's state: file, stderr, UDP. Touched only by that thread.
final class Writer: @unchecked Sendable {
    let configuration: LogShipper.Configuration
    private var fd: Int32 = -1
    private var fileSize = 0
    private var udp: Int32 = -1
    private var batcher: DatagramBatcher
    private var lastTimestampNs: UInt64 = 0
    private var delta = LogShipper.Stats()
    private var buffer: [UInt8] = []

    init(configuration: LogShipper.Configuration) throws(LogError) {
        self.configuration = configuration
        batcher = DatagramBatcher(maxBytes: configuration.datagramBytes)
        if let path = configuration.filePath {
            let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
            if !dir.isEmpty { Writer.makeDirectories(dir) }
            try openFile()
        }
        if configuration.influxHost != nil { connectUDP() }
    }

    private var nextResolveNs: UInt64 = 0

    /// Resolves the InfluxDB host (an IPv4 literal or a name, e.g. a compose service) and connects
    /// the UDP socket. A name that does not resolve yet (influxd's container not up) is tried again
    /// every 5 s from the writer thread; lines meanwhile go to the file only, counted as UDP errors.
    ///
    /// The socket is connected so it hears ICMP "port unreachable": sends to a stopped influxd then
    /// fail with ECONNREFUSED and are counted, instead of vanishing unnoticed.
    private func connectUDP() {
        guard let host = configuration.influxHost, udp < 0 else { return }
        let now = WallClock.monotonicNs()
        guard now >= nextResolveNs else { return }
        nextResolveNs = now + 5_000_000_000
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = configuration.influxPort.bigEndian
        if inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &target.sin_addr) != 1 {
            var hints = addrinfo()
            hints.ai_family = AF_INET
            hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result, let sa = first.pointee.ai_addr
            else {
                return
            }
            sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { target.sin_addr = $0.pointee.sin_addr }
            freeaddrinfo(result)
        }
        let s = socket(
            AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { return }
        let rc = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            Glibc.close(s)
            return
        }
        udp = s
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func makeDirectories(_ path: String) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            mkdir(current, 0o755)
        }
    }

    private func openFile() throws(LogError) {
        guard let path = configuration.filePath else { return }
        let f = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard f >= 0 else { throw LogError("open(\(path)): \(Writer.errnoText())") }
        fd = f
        var st = stat()
        fstat(f, &st)
        fileSize = Int(st.st_size)
    }

    func reopen() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        do {
            try openFile()
        } catch {
            delta.fileErrors += 1
        }
    }

    private func rotate() {
        guard let path = configuration.filePath else { return }
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        if configuration.keptFiles > 0 {
            for i in stride(from: configuration.keptFiles - 1, through: 1, by: -1) {
                rename("\(path).\(i)", "\(path).\(i + 1)")
            }
            rename(path, "\(path).1")
        } else {
            unlink(path)
        }
        delta.rotations += 1
        reopen()
    }

    func write(_ events: [LogRecord]) {
        guard !events.isEmpty else { return }
        buffer.removeAll(keepingCapacity: true)
        let wantsText = fd >= 0 || configuration.stderr
        var line: [UInt8] = []
        var point: [UInt8] = []
        for var event in events {
            event.normalize()
            if let redact = configuration.redact {
                event.message = redact(event.message)
                for i in event.metadata.indices where !configuration.redactionExempt.contains(event.metadata[i].0) {
                    event.metadata[i].1 = redact(event.metadata[i].1)
                }
            }
            // influxd overwrites points with the same series and timestamp: keep them strictly increasing.
            event.timestampNs = max(event.timestampNs, lastTimestampNs + 1)
            lastTimestampNs = event.timestampNs
            if wantsText {
                line.removeAll(keepingCapacity: true)
                LogFormat.logfmt(event, service: configuration.service, into: &line)
                if fd >= 0, fileSize + buffer.count + line.count > configuration.maxFileBytes,
                    fileSize + buffer.count > 0
                {
                    writeFile(buffer)
                    buffer.removeAll(keepingCapacity: true)
                    rotate()
                }
                buffer.append(contentsOf: line)
                delta.fileLines += 1
            }
            if configuration.influxHost != nil {
                point.removeAll(keepingCapacity: true)
                LogFormat.lineProtocol(event, service: configuration.service, host: configuration.host, into: &point)
                let before = batcher.droppedOversized
                for datagram in batcher.add(point) { send(datagram) }
                delta.oversizedDropped += batcher.droppedOversized - before
            }
        }
        if configuration.stderr { buffer.withUnsafeBytes { _ = Glibc.write(2, $0.baseAddress, $0.count) } }
        if fd >= 0 { writeFile(buffer) }
    }

    private func writeFile(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                delta.fileErrors += 1
                return
            }
            offset += n
        }
        fileSize += bytes.count
        delta.fileBytes += UInt64(bytes.count)
    }

    func flushDatagram() {
        if let datagram = batcher.flush() { send(datagram) }
    }

    private func send(_ datagram: [UInt8]) {
        connectUDP()
        guard udp >= 0 else {
            delta.udpErrors += 1
            return
        }
        let lines = datagram.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        let n = datagram.withUnsafeBytes { raw in Glibc.send(udp, raw.baseAddress, raw.count, Int32(MSG_NOSIGNAL)) }
        if n == datagram.count {
            delta.datagramsSent += 1
            delta.udpBytesSent += UInt64(n)
            delta.linesSent += UInt64(lines)
        } else {
            delta.udpErrors += 1  // ECONNREFUSED after an ICMP, EAGAIN when the socket buffer is full
        }
    }

    func takeStats() -> LogShipper.Stats {
        defer { delta = LogShipper.Stats() }
        return delta
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        if udp >= 0 { Glibc.close(udp) }
        fd = -1
        udp = -1
    }
}

/// A condition variable with a timed wait, for the writer thread.
final class Condition: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var signalled = false

    init() {
        pthread_mutex_init(&mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(&cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    func signal() {
        pthread_mutex_lock(&mutex)
        signalled = true
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    /// Waits for a signal or the timeout, whichever comes first.
    func wait(timeoutMs: Int) {
        pthread_mutex_lock(&mutex)
        if !signalled {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let ns = Int(ts.tv_nsec) + (timeoutMs % 1000) * 1_000_000
            ts.tv_sec += timeoutMs / 1000 + ns / 1_000_000_000
            ts.tv_nsec = ns % 1_000_000_000
            pthread_cond_timedwait(&cond, &mutex, &ts)
        }
        signalled = false
        pthread_mutex_unlock(&mutex)
    }
}

/// A plain pthread running one closure.
final class Thread: @unchecked Sendable {
    private let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }

    func start() {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(
            &thread, nil,
            { raw in
                let me = Unmanaged<Thread>.fromOpaque(raw!).takeRetainedValue()
                me.body()
                return nil
            }, context)
        pthread_detach(thread)
    }
}
