// LoadShedder: 429 before Redis runs out of memory — the backlog and Redis's memory, watched.

public import MeshLoop
import MeshRedis
public import TaskQueue

/// Decides whether a submit may be stored now. Redis holds every waiting task in memory and
/// refuses writes at `maxmemory` (`noeviction`): an API that kept accepting would turn a flood
/// into 503s for everyone, workers included (they write results too). So submits are shed with
/// 429 and `Retry-After` while either
///
/// - the **backlog** (stream entries — waiting or in work — plus delayed retries) is past `maxBacklog` — by default
///   half of `maxmemory` divided by what one waiting task takes (1 KiB of keys and stream entry
///   plus the mean size of the messages accepted so far); or
/// - Redis's **used memory** is within a reserve of `maxmemory`: a tenth of it, and at least 16
///   messages of the largest size accepted (`maxMessageBytes`), so what is in flight still fits
///   and workers can store results and drain the backlog.
///
/// Both are read every `checkIntervalMs` (`QueueClient.backlog`, `INFO memory`); between reads
/// each accepted submit counts towards the backlog at once. Shedding ends by itself once the
/// workers bring both under their limits.
public final class LoadShedder {
    public struct Configuration: Sendable {
        /// The backlog past which submits get 429; nil derives it from `maxmemory`.
        public var maxBacklog: Int64?
        /// The largest message accepted (the body limit), for the memory reserve.
        public var maxMessageBytes = 1 << 20
        public var checkIntervalMs: UInt64 = 250
        /// What a shed submit is told to wait.
        public var retryAfterSeconds = 2
        public init() {}
    }

    /// Bytes a waiting task takes besides its message: the hash's other fields, the stream
    /// entry, the keys (measured with `MEMORY USAGE`: ~600 B; rounded up).
    static let taskOverheadBytes: Int64 = 1_024

    public let configuration: Configuration
    let queue: QueueClient
    private var timer: LoopTimer?
    private var checking = false

    /// Tasks waiting or in work (stream length + delayed), as last read plus submits since.
    public private(set) var backlog: Int64 = 0
    public private(set) var usedMemory: Int64 = 0
    /// Redis's `maxmemory` (0: none set).
    public private(set) var maxMemory: Int64 = 0
    /// Mean size of accepted messages (bytes), for the derived backlog limit.
    private(set) var meanMessageBytes: Double = 1_024
    enum Cause { case backlog, memory }
    /// What sheds submits now; nil while they are accepted.
    private var cause: Cause?
    /// Why submits are shed now; nil while they are accepted.
    public private(set) var reason: String?
    public private(set) var shedForBacklog: UInt64 = 0
    public private(set) var shedForMemory: UInt64 = 0

    public init(loop: EventLoop, queue: QueueClient, configuration: Configuration = Configuration()) throws(UVError) {
        self.queue = queue
        self.configuration = configuration
        let timer = try LoopTimer(loop: loop)
        timer.unref()
        timer.start(afterMs: 0, repeatMs: configuration.checkIntervalMs) { [weak self] in self?.check() }
        self.timer = timer
    }

    /// The backlog limit in force (nil: none — no `maxmemory` known and no `maxBacklog` given).
    public var backlogLimit: Int64? {
        if let explicit = configuration.maxBacklog { return explicit }
        guard maxMemory > 0 else { return nil }
        return max(1, maxMemory / 2 / (Self.taskOverheadBytes + Int64(meanMessageBytes)))
    }

    /// Bytes kept free below `maxmemory` before submits are shed.
    public var memoryReserve: Int64 {
        min(maxMemory / 2, max(maxMemory / 10, 16 * Int64(configuration.maxMessageBytes)))
    }

    /// Whether a submit may go on; when not, the count of shed submits grows.
    public func admit() -> Bool {
        switch cause {
        case nil: return true
        case .backlog: shedForBacklog += 1
        case .memory: shedForMemory += 1
        }
        return false
    }

    /// A submit was stored: it waits in the backlog until the next read says otherwise.
    public func accepted(messageBytes: Int) {
        backlog += 1
        meanMessageBytes += (Double(messageBytes) - meanMessageBytes) / 1_000  // a slow running mean
        decide()
    }

    private func decide() {
        if let limit = backlogLimit, backlog >= limit {
            cause = .backlog
            reason = "backlog of \(backlog) tasks at its limit of \(limit)"
        } else if maxMemory > 0, usedMemory >= maxMemory - memoryReserve {
            cause = .memory
            reason =
                "redis memory \(usedMemory / 1_048_576) MiB within \(memoryReserve / 1_048_576) MiB of maxmemory \(maxMemory / 1_048_576) MiB"
        } else {
            cause = nil
            reason = nil
        }
    }

    private func check() {
        guard !checking, queue.redis.isConnected else { return }
        checking = true
        var pending = 2
        var backlog: Int64?
        var memory: (used: Int64, max: Int64)?
        let done = { [weak self] in
            pending -= 1
            guard pending == 0, let self else { return }
            self.checking = false
            if let backlog { self.backlog = backlog }
            if let memory { (self.usedMemory, self.maxMemory) = memory }
            self.decide()
        }
        // The stream's length, not the group's lag (the soak saw a lag of 1.4 million over an
        // empty stream after redis-server was SIGKILLed: every submit shed for minutes).
        queue.backlog { result in
            backlog = try? result.get()
            done()
        }
        queue.redis.send(["INFO", "memory"]) { result in
            if case .success(let value) = result, let text = value.string { memory = Self.memory(info: text) }
            done()
        }
    }

    /// `used_memory` and `maxmemory` from an `INFO memory` reply.
    static func memory(info: String) -> (used: Int64, max: Int64)? {
        var used: Int64?
        var max: Int64?
        for line in info.split(whereSeparator: \.isNewline) {
            if line.hasPrefix("used_memory:") { used = Int64(line.dropFirst(12)) }
            if line.hasPrefix("maxmemory:") { max = Int64(line.dropFirst(10)) }
        }
        guard let used, let max else { return nil }
        return (used, max)
    }

    public func close() {
        timer?.close()
        timer = nil
    }
}
