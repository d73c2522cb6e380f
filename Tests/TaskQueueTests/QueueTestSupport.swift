// QueueTestSupport: a loop, a real redis-server and clients for the TaskQueue tests.

import Foundation
import MeshLoop
import MeshRedis
import MeshTestSupport
import TaskPipeline
import Testing

@testable import TaskQueue

/// One test's world: its own loop and redis-server.
final class QueueWorld {
    let loop: EventLoop
    let server: RedisServer
    let redis: RedisClient
    let queue: QueueClient
    let keys = TaskKeys()
    private var extraClients: [RedisClient] = []

    init() throws {
        server = try RedisServer()
        loop = try EventLoop()
        redis = RedisClient(loop: loop, endpoint: .unix(path: server.socketPath))
        queue = QueueClient(redis: redis)
        redis.start()
        run(until: { self.redis.isConnected })
        var ready = false
        queue.ensureGroup { _ in ready = true }
        run(until: { ready })
    }

    func client() -> RedisClient {
        let c = RedisClient(loop: loop, endpoint: .unix(path: server.socketPath))
        extraClients.append(c)
        return c
    }

    func run(seconds: Double = 20, until condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) {
        let finished = runLoop(loop, seconds: seconds, until: condition)
        #expect(finished, "timed out after \(seconds) s", sourceLocation: sourceLocation)
    }

    func wait(ms: UInt64) {
        let start = loop.nowMs
        run(until: { self.loop.nowMs >= start + ms })
    }

    @discardableResult
    func send(_ args: [String]) -> RedisValue {
        var reply: Result<RedisValue, RedisError>?
        redis.send(args) { reply = $0 }
        run(until: { reply != nil })
        return (try? reply!.get()) ?? .error("no reply")
    }

    func eval(_ script: RedisScript, keys: [String], _ args: [String]) -> RedisValue {
        var reply: Result<RedisValue, RedisError>?
        redis.eval(script, keys: keys, arguments: args.map { Array($0.utf8) }) { reply = $0 }
        run(until: { reply != nil })
        return (try? reply!.get()) ?? .error("no reply")
    }

    func submit(_ message: String, id: String = UUID().uuidString.lowercased(), key: String? = nil) -> SubmitOutcome? {
        var outcome: Result<SubmitOutcome, QueueError>?
        queue.submit(id: id, message: message, idempotencyKey: key) { outcome = $0 }
        run(until: { outcome != nil })
        return try? outcome!.get()
    }

    func record(_ id: String) -> TaskRecord? {
        var r: Result<TaskRecord?, QueueError>?
        queue.status(id: id) { r = $0 }
        run(until: { r != nil })
        return (try? r!.get()) ?? nil
    }

    /// Entries delivered and not acknowledged.
    func pendingCount() -> Int64 {
        if case .array(let p?) = send(["XPENDING", keys.stream, keys.group]), case .integer(let n) = p.first {
            return n
        }
        return -1
    }

    func integer(_ args: [String]) -> Int64 {
        if case .integer(let n) = send(args) { return n }
        return -1
    }

    /// A consumer on its own pair of connections.
    func consumer(
        name: String, clock: (any ConsumerClock)? = nil,
        configure: (inout TaskConsumer.Configuration) -> Void = { _ in },
        processor: @escaping TaskConsumer.Processor
    ) -> TaskConsumer {
        var config = TaskConsumer.Configuration(name: name)
        config.promoteIntervalMs = 20
        config.reclaimIntervalMs = 100
        config.blockMs = 200
        configure(&config)
        return TaskConsumer(
            loop: loop, commands: client(), reader: client(), configuration: config, clock: clock, processor: processor)
    }

    func finish(_ consumers: [TaskConsumer] = []) {
        var stopped = 0
        for c in consumers { c.stop(graceMs: 0) { stopped += 1 } }
        run(until: { stopped == consumers.count })
        for c in extraClients { c.close() }
        redis.close()
        loop.runUntilHandlesClosed()
        #expect(loop.openHandleCount == 0)
        #expect(throws: Never.self) { try loop.close() }
        server.stop()
    }
}

extension SubmitOutcome {
    var id: String {
        switch self {
        case .created(let id), .existing(let id), .conflict(let id): id
        }
    }
}

/// A clock that moves only when the test says: the consumer's timers fire in due order inside
/// `advance`, so a test of a 60-second interval takes no 60 seconds.
final class ManualClock: ConsumerClock {
    private(set) var nowMs: UInt64 = 0
    private var timers: [ManualTimer] = []

    func makeTimer() throws(UVError) -> any ConsumerTimer {
        let timer = ManualTimer(clock: self)
        timers.append(timer)
        return timer
    }

    /// Moves time on by `ms`, firing every timer that falls due on the way.
    func advance(byMs ms: UInt64) {
        let end = nowMs + ms
        while let next = timers.filter({ ($0.dueMs ?? .max) <= end }).min(by: { $0.dueMs! < $1.dueMs! }) {
            nowMs = next.dueMs!
            next.dueMs = next.repeatMs > 0 ? nowMs + next.repeatMs : nil
            next.body?()
        }
        nowMs = end
    }

    var activeTimers: Int { timers.filter(\.isActive).count }
}

final class ManualTimer: ConsumerTimer {
    unowned let clock: ManualClock
    var dueMs: UInt64?
    var repeatMs: UInt64 = 0
    var body: (() -> Void)?

    init(clock: ManualClock) { self.clock = clock }

    func start(afterMs: UInt64, repeatMs: UInt64, _ body: @escaping () -> Void) {
        dueMs = clock.nowMs + afterMs
        self.repeatMs = repeatMs
        self.body = body
    }

    func stop() { dueMs = nil }

    func close() {
        dueMs = nil
        body = nil
    }

    var isActive: Bool { dueMs != nil }
}
