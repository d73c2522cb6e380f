// RPCServer: serves registered methods on Unix and TCP listeners, with the built-in _sys services.

public import Logging
public import MeshLoop
public import MeshProto
public import MeshTLS
import MeshWire
import SwiftProtobuf

/// Whether a server (or one of its services) takes calls, as `_sys.Health/Check` reports it.
public enum ServingStatus: Sendable {
    case serving
    case notServing
}

/// An RPC server on one event loop.
///
/// ```swift
/// let server = try RPCServer(loop: loop, configuration: .init(name: "alert-service"), logger: logger)
/// server.register(AlertService.analyze) { request, call in call.respond(analyze(request)) }
/// try server.listen(on: .unix(path: "/run/alertmesh/alert.sock"))
/// loop.run()
/// ```
///
/// Every server answers `_sys.Health/Check`, `_sys.Reflection/List`, `_sys.Stats/Get` and
/// `_sys.Echo/Echo` (proto/alertmesh/v1/sys.proto).
public final class RPCServer {
    public struct Configuration: Sendable {
        /// The server's name in HELLO, reflection and stats (`alert-service`).
        public var name: String
        public var build: String = "dev"
        /// The largest request body accepted; larger ones get RESOURCE_EXHAUSTED.
        public var maxFrame: UInt32 = HelloSettings.defaultMaxFrame
        /// Calls served at once per connection; more get UNAVAILABLE (0: no limit).
        public var maxConcurrentCallsPerConnection = 4_096
        /// Connections accepted at once; more are closed at once.
        public var maxConnections = 4_096
        public var timeouts = ConnectionTimeouts()
        /// Mode of Unix socket files (owner-only by default).
        public var unixSocketMode: UInt32 = 0o600
        /// TLS for TCP listeners: both sides present a certificate the mesh CA signed. Unix
        /// listeners stay plaintext (their file mode guards them).
        public var tls: TLSContext?
        /// Who may call what over TLS (see `AccessPolicy`).
        public var accessPolicy = AccessPolicy.open

        public init(name: String) { self.name = name }
    }

    public let loop: EventLoop
    /// The service's own figures for `_sys.Stats/Get` (`figures`), Prometheus-style names.
    public var figuresProvider: (() -> [String: Double])?
    public let configuration: Configuration
    let logger: Logger
    let helloSettings: HelloSettings
    let startNs = EventLoop.hrtimeNs()

    /// A class: a call looks its method up and keeps it with one reference, not a copy of the
    /// descriptor's strings.
    final class Registration {
        let descriptor: MethodDescriptor
        /// Where its calls are counted in `stats`.
        let statsSlot: Int
        let invoke: ([UInt8], ServerCall) -> Void

        init(descriptor: MethodDescriptor, statsSlot: Int, invoke: @escaping ([UInt8], ServerCall) -> Void) {
            self.descriptor = descriptor
            self.statsSlot = statsSlot
            self.invoke = invoke
        }
    }

    private(set) var registrations: [UInt32: Registration] = [:]
    private var listeners: [StreamListener] = []
    private var connections: [ObjectIdentifier: ServerConnection] = [:]
    var deadlines = DeadlineQueue<ServerCall>()
    private var deadlineTimer: LoopTimer?
    var stats = ServerStats()
    private var status: ServingStatus = .serving
    private var serviceStatus: [String: ServingStatus] = [:]
    /// Why the whole server is not serving, for health answers.
    var notServingReason = ""
    private var shutdownCompletion: (() -> Void)?
    private var shutdownTimer: LoopTimer?
    public private(set) var isShuttingDown = false

    public init(loop: EventLoop, configuration: Configuration, logger: Logger) throws(UVError) {
        self.loop = loop
        self.configuration = configuration
        self.logger = logger
        var hello = HelloSettings()
        hello.maxFrame = min(configuration.maxFrame, HelloSettings.hardMaxFrame)
        hello.maxConcurrent = UInt32(configuration.maxConcurrentCallsPerConnection)
        hello.pingIntervalMs = configuration.timeouts.pingIntervalMs
        hello.peer = configuration.name
        hello.build = configuration.build
        helloSettings = hello
        deadlineTimer = try LoopTimer(loop: loop)
        registerBuiltins()
    }

    // MARK: Methods

    /// Serves `method` with `handler`, which must answer the call exactly once (now or later).
    public func register<Request, Response>(
        _ method: RPCMethod<Request, Response>, handler: @escaping (Request, ServerCall) -> Void
    ) {
        let d = method.descriptor
        precondition(registrations[d.id.rawValue] == nil, "method id \(d.id) registered twice")
        serviceStatus[d.service] = serviceStatus[d.service] ?? .serving
        let registration = Registration(descriptor: d, statsSlot: stats.slot(for: d.fullName)) {
            payload, call in
            let request: Request
            do {
                switch call.codec {
                case .binary: request = try Request(serializedBytes: payload)
                case .json: request = try Request(jsonUTF8Bytes: payload)
                }
            } catch {
                return call.fail(.invalidArgument, "cannot decode request as \(d.requestType): \(error)")
            }
            handler(request, call)
        }
        registrations[d.id.rawValue] = registration
    }

    /// Serves `method` with a handler that answers before returning (or throws the error to answer).
    public func registerSync<Request, Response>(
        _ method: RPCMethod<Request, Response>, handler: @escaping (Request, ServerCall) throws(RPCError) -> Response
    ) {
        register(method) { (request: Request, call: ServerCall) in
            switch Result(catching: { () throws(RPCError) in try handler(request, call) }) {
            case .success(let response): call.respond(response)
            case .failure(let error): call.fail(error)
            }
        }
    }

    /// Every registered method, by service then method id.
    public var methods: [MethodDescriptor] { registrations.values.map(\.descriptor).sorted { $0.id < $1.id } }

    // MARK: Health

    /// Sets the status `_sys.Health/Check` reports for `service` (nil: the whole server), and for
    /// the whole server why it is not serving.
    public func setServingStatus(_ status: ServingStatus, service: String? = nil, reason: String = "") {
        if let service {
            serviceStatus[service] = status
        } else {
            self.status = status
            notServingReason = status == .serving ? "" : reason
        }
    }

    func servingStatus(service: String) -> ServingStatus? {
        if service.isEmpty { return status }
        guard let s = serviceStatus[service] else { return nil }
        return status == .notServing ? .notServing : s
    }

    // MARK: Listening

    /// Listens on `endpoint`; returns the bound endpoint (the real port for port 0).
    @discardableResult
    public func listen(on endpoint: Endpoint) throws(UVError) -> Endpoint {
        precondition(!isShuttingDown, "listen after shutdown")
        let listener = try StreamListener(loop: loop, endpoint: endpoint, unixSocketMode: configuration.unixSocketMode)
        {
            [unowned self] stream in self.accept(stream, on: endpoint)
        }
        listener.onAcceptError = { [unowned self] error in
            self.logger.warning("rpc accept failed", metadata: ["error": "\(error)"])
        }
        listeners.append(listener)
        logger.info("rpc listening", metadata: ["endpoint": "\(listener.endpoint)"])
        return listener.endpoint
    }

    /// The endpoints being listened on.
    public var endpoints: [Endpoint] { listeners.map(\.endpoint) }

    private func accept(_ stream: StreamConnection, on endpoint: Endpoint) {
        guard connections.count < configuration.maxConnections, !isShuttingDown else {
            logger.warning(
                "rpc connection refused: limit reached", metadata: ["limit": "\(configuration.maxConnections)"])
            return stream.close()
        }
        var session: TLSSession?
        if case .tcp = endpoint, let tls = configuration.tls {
            guard let s = tls.makeSession(server: true) else {
                logger.warning("rpc connection refused: cannot start a TLS session (out of memory?)")
                return stream.close()
            }
            session = s
        }
        let connection = ServerConnection(
            stream: stream, server: self, listener: endpoint.description, peer: stream.peerAddress, session: session)
        connections[ObjectIdentifier(connection)] = connection
        stats.connectionsOpen += 1
        stats.connectionsTotal += 1
        connection.start()
    }

    func connectionDidClose(_ connection: ServerConnection) {
        guard connections.removeValue(forKey: ObjectIdentifier(connection)) != nil else { return }
        stats.connectionsOpen -= 1
        stats.closedBytesIn += connection.wire.stream.bytesRead
        stats.closedBytesOut += connection.wire.stream.bytesWritten
        if isShuttingDown && connections.isEmpty { finishShutdown() }
    }

    // MARK: Deadlines

    func scheduleDeadline(_ call: ServerCall, atMs deadline: UInt64) {
        let wasEarliest = deadlines.earliest
        deadlines.insert(call, deadlineMs: deadline)
        if wasEarliest == nil || deadline < wasEarliest!.deadlineMs { armDeadlineTimer() }
    }

    private func armDeadlineTimer() {
        guard let first = deadlines.earliest, let timer = deadlineTimer else { return }
        let now = loop.nowMs
        timer.start(afterMs: first.deadlineMs > now ? first.deadlineMs - now : 0) { [unowned self] in
            for call in self.deadlines.popExpired(nowMs: self.loop.nowMs) { call.connection.expire(call) }
            self.armDeadlineTimer()
        }
    }

    func record(_ call: ServerCall, status: StatusCode) {
        stats.record(slot: call.registration.statsSlot, status: status, latencyNs: EventLoop.hrtimeNs() &- call.startNs)
    }

    // MARK: Shutdown

    /// Drains gracefully: stop listening, report NOT_SERVING, send GOAWAY, let in-flight calls finish,
    /// and after `graceMs` close whatever is left. `completion` runs once everything is closed.
    public func shutdown(graceMs: UInt64 = 10_000, _ completion: @escaping () -> Void = {}) {
        guard !isShuttingDown else { return }
        isShuttingDown = true
        shutdownCompletion = completion
        status = .notServing
        logger.info("rpc server draining", metadata: ["connections": "\(connections.count)", "grace_ms": "\(graceMs)"])
        for l in listeners { l.close() }
        listeners.removeAll()
        if connections.isEmpty { return finishShutdown() }
        for c in connections.values { c.beginDrain(sendGoaway: true) }
        shutdownTimer = try? LoopTimer(loop: loop)
        shutdownTimer?.start(afterMs: graceMs) { [unowned self] in
            self.logger.warning(
                "rpc drain grace period over; closing", metadata: ["connections": "\(self.connections.count)"])
            for c in self.connections.values { c.forceClose() }
        }
    }

    /// Closes every connection now, without waiting for calls (the second Ctrl-C).
    public func shutdownNow() {
        if !isShuttingDown { shutdown(graceMs: 0) }
        for c in connections.values { c.forceClose() }
    }

    private func finishShutdown() {
        shutdownTimer?.close()
        shutdownTimer = nil
        deadlineTimer?.close()
        deadlineTimer = nil
        let completion = shutdownCompletion
        shutdownCompletion = nil
        logger.info("rpc server stopped")
        completion?()
    }

    // MARK: Stats

    /// A snapshot of the server's counters (`_sys.Stats/Get`).
    public func statsSnapshot() -> Alertmesh_V1_StatsResponse {
        var r = Alertmesh_V1_StatsResponse()
        r.server = configuration.name
        r.build = configuration.build
        r.uptimeSeconds = Double(EventLoop.hrtimeNs() &- startNs) / 1e9
        r.connectionsOpen = stats.connectionsOpen
        r.connectionsTotal = stats.connectionsTotal
        r.callsInFlight = stats.callsInFlight
        r.protocolErrors = stats.protocolErrors
        r.bytesIn = stats.closedBytesIn + connections.values.reduce(0) { $0 + $1.wire.stream.bytesRead }
        r.bytesOut = stats.closedBytesOut + connections.values.reduce(0) { $0 + $1.wire.stream.bytesWritten }
        r.methods = stats.methodStats()
        if let figuresProvider { r.figures = figuresProvider() }
        return r
    }
}
