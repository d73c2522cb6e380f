// HTTPServer: HTTP/1.1 on MeshLoop — keep-alive, pipelining, limits, timeouts, a connection cap.

public import MeshLoop

/// An HTTP/1.1 server on a MeshLoop `EventLoop`.
///
/// Requests are parsed by http-parser (`HTTPRequestParser`) and handed to `handler` one at a time
/// per connection; pipelined requests wait in the connection's buffer and are answered in order.
/// Slow clients are cut off: a request must arrive whole within `requestTimeoutMs` of its first
/// byte (408), and an idle keep-alive connection is closed after `idleTimeoutMs`. Past
/// `maxConnections` a new connection gets a 503 and is closed.
///
/// ```swift
/// let server = try HTTPServer(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 8080)) { request, responder in
///     responder.respond(.json(200, Array(#"{"ok":true}"#.utf8)))
/// }
/// ```
public final class HTTPServer {
    public struct Configuration: Sendable {
        public var maxConnections = 4096
        /// Request line plus headers (431 past it).
        public var maxHeaderBytes = 16 << 10
        /// A request body (413 past it).
        public var maxBodyBytes = 1 << 20
        /// From a request's first byte until it is complete (408 past it).
        public var requestTimeoutMs: UInt64 = 10_000
        /// How long a keep-alive connection may sit with no request.
        public var idleTimeoutMs: UInt64 = 60_000
        /// Output a client has not read yet; past it the server stops reading from that client.
        public var maxPendingOutputBytes = 1 << 20
        /// How long a connection's last answer may take to leave (`Connection: close`, an error)
        /// before the connection is cut: a client that never reads must not hold its slot.
        public var closeWriteTimeoutMs: UInt64 = 10_000

        public init() {}
    }

    public struct Stats: Sendable {
        public var accepted: UInt64 = 0
        public var rejected: UInt64 = 0
        public var requests: UInt64 = 0
        public var malformed: UInt64 = 0
        public var timedOut: UInt64 = 0
        public var open = 0

        /// The counters under their metric names, for `/metrics`.
        public func figures() -> [String: Double] {
            [
                "http_connections_open": Double(open), "http_connections_accepted_total": Double(accepted),
                "http_connections_rejected_total": Double(rejected), "http_malformed_requests_total": Double(malformed),
                "http_timeouts_total": Double(timedOut),
            ]
        }
    }

    public typealias Handler = (HTTPRequest, HTTPResponder) -> Void

    public let loop: EventLoop
    public let configuration: Configuration
    public private(set) var stats = Stats()
    /// The bound address (with the real port when 0 was asked for).
    public var endpoint: Endpoint { listener?.endpoint ?? boundEndpoint }
    /// Called for problems the server handled itself (accept errors); for logs.
    public var onProblem: ((String) -> Void)?

    private var boundEndpoint: Endpoint
    private var listener: StreamListener?
    private let handler: Handler
    private var connections: [ObjectIdentifier: HTTPServerConnection] = [:]
    private var closing = false
    var date = HTTPDate()

    public init(
        loop: EventLoop, endpoint: Endpoint, configuration: Configuration = Configuration(),
        handler: @escaping Handler
    ) throws(UVError) {
        self.loop = loop
        self.configuration = configuration
        self.handler = handler
        self.boundEndpoint = endpoint
        listener = try StreamListener(loop: loop, endpoint: endpoint) { [unowned self] stream in
            self.accept(stream)
        }
        boundEndpoint = listener!.endpoint
        listener?.onAcceptError = { [unowned self] error in self.onProblem?("accept: \(error)") }
    }

    private func accept(_ stream: StreamConnection) {
        if closing || connections.count >= configuration.maxConnections {
            stats.rejected += 1
            var out: [UInt8] = []
            HTTPResponse.error(503, "too many connections", headers: [("Retry-After", "1")])
                .serialize(into: &out, close: true, date: date.now())
            stream.write(out)
            stream.closeAfterFlush()
            return
        }
        stats.accepted += 1
        do {
            let connection = try HTTPServerConnection(server: self, stream: stream)
            connections[ObjectIdentifier(connection)] = connection
            stats.open = connections.count
            connection.start()
        } catch {
            onProblem?("connection setup: \(error)")
            stream.close()
        }
    }

    func connectionClosed(_ connection: HTTPServerConnection) {
        connections[ObjectIdentifier(connection)] = nil
        stats.open = connections.count
    }

    func dispatch(_ request: HTTPRequest, _ responder: HTTPResponder) {
        stats.requests += 1
        handler(request, responder)
    }

    func countMalformed() { stats.malformed += 1 }
    func countTimeout() { stats.timedOut += 1 }
    var isClosing: Bool { closing }

    /// Stops accepting; idle connections close now, busy ones right after their current response.
    public func close() {
        guard !closing else { return }
        closing = true
        listener?.close()
        listener = nil
        for connection in Array(connections.values) { connection.shutdown() }
    }

    /// Whether every connection has closed (after `close()`).
    public var isDrained: Bool { connections.isEmpty }
}

/// Answers one request. Call `respond` exactly once, on the loop; later calls are ignored.
public final class HTTPResponder {
    /// When the request was complete (`EventLoop.hrtimeNs()`), for latency figures.
    public let receivedAtNs: UInt64
    /// Strong: an answer after the connection closed finds it closed and is dropped; a weak
    /// reference would give every connection a side table and each of its retains the slow path.
    private let connection: HTTPServerConnection
    private let generation: UInt64
    private var answered = false

    init(connection: HTTPServerConnection, generation: UInt64) {
        self.connection = connection
        self.generation = generation
        receivedAtNs = EventLoop.hrtimeNs()
    }

    public func respond(_ response: HTTPResponse) {
        guard !answered else { return }
        answered = true
        connection.send(response, generation: generation)
    }

    /// Whether the client is still there to read an answer.
    public var isConnectionOpen: Bool { connection.isOpen }
}
