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
    /// Held here, not by hiredis: a channel's callback runs once per message, so its `privdata`
    /// is unretained; the context holds this connection, so they live as long as it does.
    private var subscriptions: [Subscription] = []
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
        subscriptions.removeAll()
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
        let rc = command(ac, arguments, privdata: pending) { _, reply, privdata in
            let command = Unmanaged<PendingCommand>.fromOpaque(privdata!).takeRetainedValue()
            command.finish(reply.map { RedisConnection.value(of: $0.assumingMemoryBound(to: redisReply.self)) })
        }
        if rc != REDIS_OK {
            Unmanaged<PendingCommand>.fromOpaque(pending).release()
            completion(.failure(RedisError("redisAsyncCommandArgv failed: connection to \(endpoint) is closing")))
        }
    }

    /// Subscribes to `channel`; `onMessage` runs with the payload of every message published on
    /// it until the connection closes. A subscribed connection carries no other command.
    public func subscribe(_ channel: String, onMessage: @escaping ([UInt8]) -> Void) {
        loop.assertInLoop()
        guard let ac = context, isConnected else { return }
        let subscription = Subscription(onMessage: onMessage)
        subscriptions.append(subscription)
        let arguments = [Array("SUBSCRIBE".utf8), Array(channel.utf8)]
        _ = command(ac, arguments, privdata: Unmanaged.passUnretained(subscription).toOpaque()) { _, reply, privdata in
            // NULL when the connection goes away; the subscription goes with it.
            guard let reply else { return }
            let me = Unmanaged<Subscription>.fromOpaque(privdata!).takeUnretainedValue()
            me.received(RedisConnection.value(of: reply.assumingMemoryBound(to: redisReply.self)))
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

    /// Queues `arguments` on `ac` (hiredis's argv form: binary-safe); `callback` gets `privdata`.
    private func command(
        _ ac: UnsafeMutablePointer<redisAsyncContext>, _ arguments: [[UInt8]], privdata: UnsafeMutableRawPointer,
        callback:
            @convention(c) (
                UnsafeMutablePointer<redisAsyncContext>?, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?
            ) -> Void
    ) -> Int32 {
        let lengths = arguments.map(\.count)
        return withArgv(arguments) { argv in
            lengths.withUnsafeBufferPointer { lens in
                redisAsyncCommandArgv(ac, callback, privdata, Int32(arguments.count), argv, lens.baseAddress)
            }
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

/// One channel's handler: pub/sub replies are `["subscribe", channel, count]` first, then
/// `["message", channel, payload]` for each message.
private final class Subscription {
    let onMessage: ([UInt8]) -> Void
    init(onMessage: @escaping ([UInt8]) -> Void) { self.onMessage = onMessage }

    func received(_ value: RedisValue) {
        guard case .array(let items?) = value, items.count == 3, items[0].string == "message",
            case .bulk(let payload?) = items[2]
        else { return }
        onMessage(payload)
    }
}
