// RedisConnection: one hiredis async connection on the service's libuv loop.

internal import CHiredis
public import MeshLoop

/// Where Redis listens: `host:port` or `unix:/path`.
public enum RedisEndpoint: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: UInt16)
    case unix(path: String)

    public init(parsing text: String) throws(Endpoint.ParseError) {
        switch try Endpoint(parsing: text) {
        case .tcp(let h, let p): self = .tcp(host: h, port: p)
        case .unix(let path): self = .unix(path: path)
        }
    }

    public var description: String {
        switch self {
        case .tcp(let h, let p): "\(h):\(p)"
        case .unix(let path): "unix:\(path)"
        }
    }
}

/// A Redis connection driven by hiredis's async API on a MeshLoop `EventLoop`.
///
/// Ownership: the context's `data` holds one retained reference to this object, given back in
/// the connect callback when connecting fails, in the disconnect callback otherwise, or by
/// `close()` when it frees a context that never connected (hiredis calls neither then). Every
/// command carries one retained `PendingCommand`, given back in its reply callback, which hiredis
/// calls exactly once — with a NULL reply when the connection goes away.
///
/// ```swift
/// let redis = RedisConnection(loop: loop, endpoint: .unix(path: "/run/redis.sock"))
/// redis.connect { _ in redis.send(["PING"]) { print($0) } }
/// ```
public final class RedisConnection {
    public let loop: EventLoop
    public let endpoint: RedisEndpoint
    /// Called once when an established connection is lost or closed (nil: closed by us).
    public var onDisconnect: ((RedisError?) -> Void)?

    private var context: UnsafeMutablePointer<redisAsyncContext>?
    private var connectCompletion: ((Result<Void, RedisError>) -> Void)?
    public private(set) var isConnected = false

    public init(loop: EventLoop, endpoint: RedisEndpoint) {
        self.loop = loop
        self.endpoint = endpoint
    }

    /// Connects; `completion` runs once on the loop.
    public func connect(_ completion: @escaping (Result<Void, RedisError>) -> Void) {
        loop.assertInLoop()
        precondition(context == nil, "connect on a connection already in use")
        let ac: UnsafeMutablePointer<redisAsyncContext>?
        switch endpoint {
        case .tcp(let host, let port): ac = redisAsyncConnect(host, Int32(port))
        case .unix(let path): ac = redisAsyncConnectUnix(path)
        }
        guard let ac else { return completion(.failure(RedisError("redisAsyncConnect: out of memory"))) }
        if ac.pointee.err != 0 {
            let message = RedisConnection.errorText(ac)
            redisAsyncFree(ac)
            return completion(.failure(RedisError("connect \(endpoint): \(message)")))
        }
        do {
            try HiredisLoopAdapter.attach(ac, loop: loop)
        } catch {
            redisAsyncFree(ac)
            return completion(.failure(RedisError("attach to the loop: \(error)")))
        }
        ac.pointee.data = Unmanaged.passRetained(self).toOpaque()
        context = ac
        connectCompletion = completion
        redisAsyncSetConnectCallback(ac) { ac, status in
            let me = Unmanaged<RedisConnection>.fromOpaque(ac!.pointee.data).takeUnretainedValue()
            me.didConnect(status: status, errorText: RedisConnection.errorText(ac!))
        }
        redisAsyncSetDisconnectCallback(ac) { ac, status in
            let me = Unmanaged<RedisConnection>.fromOpaque(ac!.pointee.data).takeRetainedValue()
            me.didDisconnect(status: status, errorText: RedisConnection.errorText(ac!))
        }
    }

    /// The context's error text (`redisContext.errstr`, a fixed char array).
    private static func errorText(_ ac: UnsafePointer<redisAsyncContext>) -> String {
        withUnsafeBytes(of: ac.pointee.c.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private func didConnect(status: Int32, errorText: String) {
        let completion = connectCompletion
        connectCompletion = nil
        if status == REDIS_OK {
            isConnected = true
            completion?(.success(()))
        } else {
            // hiredis frees the context after this callback and will not call the disconnect callback.
            context = nil
            Unmanaged<RedisConnection>.passUnretained(self).release()
            completion?(.failure(RedisError("connect \(endpoint): \(errorText)")))
        }
    }

    private func didDisconnect(status: Int32, errorText: String) {
        let wasConnected = isConnected
        isConnected = false
        context = nil
        guard wasConnected else { return }
        onDisconnect?(status == REDIS_OK ? nil : RedisError("connection to \(endpoint) lost: \(errorText)"))
    }

    /// Sends one command; `completion` runs once with the reply, or with an error if the
    /// connection cannot carry it or goes away first.
    public func send(_ arguments: [String], completion: @escaping (Result<RedisValue, RedisError>) -> Void) {
        send(arguments.map { Array($0.utf8) }, completion: completion)
    }

    public func send(_ arguments: [[UInt8]], completion: @escaping (Result<RedisValue, RedisError>) -> Void) {
        loop.assertInLoop()
        guard let ac = context, isConnected else {
            return completion(.failure(RedisError("not connected to \(endpoint)")))
        }
        let pending = Unmanaged.passRetained(PendingCommand(completion: completion, endpoint: endpoint)).toOpaque()
        let lengths = arguments.map(\.count)
        let rc = withArgv(arguments) { argv in
            lengths.withUnsafeBufferPointer { lens in
                redisAsyncCommandArgv(
                    ac,
                    { _, reply, privdata in
                        let command = Unmanaged<PendingCommand>.fromOpaque(privdata!).takeRetainedValue()
                        command.finish(
                            reply.map { RedisConnection.value(of: $0.assumingMemoryBound(to: redisReply.self)) })
                    }, pending, Int32(arguments.count), argv, lens.baseAddress)
            }
        }
        if rc != REDIS_OK {
            Unmanaged<PendingCommand>.fromOpaque(pending).release()
            completion(.failure(RedisError("redisAsyncCommandArgv failed: connection to \(endpoint) is closing")))
        }
    }

    /// Closes at once, without waiting for replies still owed: pending commands fail (NULL
    /// reply), then `onDisconnect(nil)` runs. `close()` is hiredis's graceful disconnect, which
    /// waits for every pending reply — forever, if the server has stopped answering.
    public func abort() {
        guard let ac = context else { return }
        guard isConnected else { return close() }
        redisAsyncFree(ac)  // runs the pending callbacks, then the disconnect callback (which releases us)
    }

    /// Closes: pending commands fail, then `onDisconnect(nil)` runs.
    public func close() {
        guard let ac = context else { return }
        if isConnected {
            redisAsyncDisconnect(ac)  // the disconnect callback releases us
        } else {
            // Still connecting: hiredis will call no callback, so give back the reference here.
            context = nil
            connectCompletion?(.failure(RedisError("closed while connecting to \(endpoint)")))
            connectCompletion = nil
            redisAsyncFree(ac)
            Unmanaged<RedisConnection>.passUnretained(self).release()
        }
    }

    private func withArgv<R>(_ args: [[UInt8]], _ body: (UnsafeMutablePointer<UnsafePointer<CChar>?>) -> R) -> R {
        let argv = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: max(1, args.count))
        defer { argv.deallocate() }
        var buffers: [UnsafeMutablePointer<CChar>] = []
        defer { buffers.forEach { $0.deallocate() } }
        for (i, a) in args.enumerated() {
            let b = UnsafeMutablePointer<CChar>.allocate(capacity: max(1, a.count))
            a.withUnsafeBytes { raw in
                if let base = raw.baseAddress { UnsafeMutableRawPointer(b).copyMemory(from: base, byteCount: a.count) }
            }
            buffers.append(b)
            argv[i] = UnsafePointer(b)
        }
        return body(argv)
    }

    /// Copies a hiredis reply (valid only during the callback) into a `RedisValue`.
    static func value(of r: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let reply = r.pointee
        func text() -> [UInt8] {
            guard let s = reply.str else { return [] }
            return Array(UnsafeRawBufferPointer(start: s, count: Int(reply.len)))
        }
        switch reply.type {
        case REDIS_REPLY_STATUS: return .status(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: text(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(reply.integer)
        case REDIS_REPLY_STRING: return .bulk(text())
        case REDIS_REPLY_NIL: return .bulk(nil)
        case REDIS_REPLY_ARRAY:
            var items: [RedisValue] = []
            items.reserveCapacity(Int(reply.elements))
            for i in 0..<Int(reply.elements) {
                if let e = reply.element[i] { items.append(value(of: e)) }
            }
            return .array(items)
        default: return .error("unknown reply type \(reply.type)")
        }
    }
}

private final class PendingCommand {
    let completion: (Result<RedisValue, RedisError>) -> Void
    let endpoint: RedisEndpoint

    init(completion: @escaping (Result<RedisValue, RedisError>) -> Void, endpoint: RedisEndpoint) {
        self.completion = completion
        self.endpoint = endpoint
    }

    func finish(_ value: RedisValue?) {
        if let value {
            completion(.success(value))
        } else {
            completion(.failure(RedisError("no reply: connection to \(endpoint) closed", replyLost: true)))
        }
    }
}

/// Drives a hiredis context from a `PollWatcher`.
///
/// hiredis 0.14's own libuv adapter (`redisLibuvAttach`) drops poll errors: on a refused connect or
/// a reset socket libuv reports an error status, the adapter returns without telling hiredis, and
/// the connection hangs forever. This adapter hands errors to hiredis as readiness (as hiredis 1.x
/// does), so hiredis reads the socket error and calls back.
///
/// Writes: hiredis asks for writability (`addWrite`) after every command it queues. Waiting for
/// epoll to say so costs two `epoll_ctl` calls and a loop turn per batch, for a socket that is
/// nearly always writable; instead, once connected, the queued commands are written by an idle
/// handle on the next loop turn — every command of the turn in one `write` — and only a write
/// that could not finish waits for writability. (While connecting, `addWrite` is how
/// hiredis learns that `connect` finished, so it goes to epoll as usual.)
///
/// Ownership: `ev.data` holds one retained adapter, given back in hiredis's `cleanup` callback,
/// which also clears `context` so a pending poll or idle callback never touches a freed context.
final class HiredisLoopAdapter {
    var context: UnsafeMutablePointer<redisAsyncContext>?
    var watcher: PollWatcher?
    var flusher: LoopIdle?
    var reading = false
    var writing = false
    /// Inside `flush()`: an `addWrite` now means hiredis could not write everything.
    private var flushing = false

    static func attach(_ ac: UnsafeMutablePointer<redisAsyncContext>, loop: EventLoop) throws(UVError) {
        let adapter = HiredisLoopAdapter()
        adapter.context = ac
        adapter.watcher = try PollWatcher(loop: loop, socket: ac.pointee.c.fd) { [adapter] readable, writable, _ in
            if readable, let ac = adapter.context { redisAsyncHandleRead(ac) }
            if writable, let ac = adapter.context { redisAsyncHandleWrite(ac) }
        }
        do {
            adapter.flusher = try LoopIdle(loop: loop)
        } catch {
            adapter.watcher?.close()
            throw error
        }
        ac.pointee.ev.data = Unmanaged.passRetained(adapter).toOpaque()
        ac.pointee.ev.addRead = { data in HiredisLoopAdapter.from(data).set(reading: true) }
        ac.pointee.ev.delRead = { data in HiredisLoopAdapter.from(data).set(reading: false) }
        ac.pointee.ev.addWrite = { data in HiredisLoopAdapter.from(data).wantWrite() }
        ac.pointee.ev.delWrite = { data in HiredisLoopAdapter.from(data).set(writing: false) }
        ac.pointee.ev.cleanup = { data in
            let adapter = Unmanaged<HiredisLoopAdapter>.fromOpaque(data!).takeRetainedValue()
            adapter.context = nil
            adapter.watcher?.close()
            adapter.watcher = nil
            adapter.flusher?.close()
            adapter.flusher = nil
        }
    }

    private func wantWrite() {
        guard let ac = context, ac.pointee.c.flags & REDIS_CONNECTED != 0, !flushing, let flusher else {
            return set(writing: true)
        }
        flusher.runOnce { [unowned self] in self.flush() }
    }

    private func flush() {
        guard let ac = context else { return }
        flushing = true
        redisAsyncHandleWrite(ac)  // may free the context (a write error): `cleanup` clears it
        flushing = false
    }

    static func from(_ data: UnsafeMutableRawPointer?) -> HiredisLoopAdapter {
        Unmanaged<HiredisLoopAdapter>.fromOpaque(data!).takeUnretainedValue()
    }

    func set(reading: Bool? = nil, writing: Bool? = nil) {
        if let reading { self.reading = reading }
        if let writing { self.writing = writing }
        watcher?.watch(readable: self.reading, writable: self.writing)
    }
}
