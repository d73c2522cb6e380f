// HTTPClient: a small HTTP/1.1 keep-alive client on MeshLoop (for the load generator and tests).

internal import CHTTPParser
public import MeshLoop

/// A response: status, headers, body.
public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Why a request got no response.
public struct HTTPClientError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// Parses responses with http-parser (HTTP_RESPONSE), one at a time.
final class HTTPResponseParser {
    private let parser: UnsafeMutablePointer<http_parser>
    private var settings = http_parser_settings()
    private var headers = HTTPHeaders()
    private var field: [UInt8] = []
    private var value: [UInt8] = []
    private var inValue = false
    private var body: [UInt8] = []
    private(set) var completed: [HTTPClientResponse] = []
    private(set) var keepAlive = true

    init() {
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_RESPONSE)
        http_parser_settings_init(&settings)
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        settings.on_message_begin = { p in
            let me = HTTPResponseParser.from(p)
            me.headers = HTTPHeaders()
            me.body = []
            return 0
        }
        settings.on_header_field = { p, at, n in
            let me = HTTPResponseParser.from(p)
            if me.inValue { me.store() }
            me.field.append(contentsOf: UnsafeRawBufferPointer(start: at, count: n))
            return 0
        }
        settings.on_header_value = { p, at, n in
            let me = HTTPResponseParser.from(p)
            me.inValue = true
            me.value.append(contentsOf: UnsafeRawBufferPointer(start: at, count: n))
            return 0
        }
        settings.on_headers_complete = { p in
            let me = HTTPResponseParser.from(p)
            if me.inValue || !me.field.isEmpty { me.store() }
            return 0
        }
        settings.on_body = { p, at, n in
            HTTPResponseParser.from(p).body.append(contentsOf: UnsafeRawBufferPointer(start: at, count: n))
            return 0
        }
        settings.on_message_complete = { p in
            let me = HTTPResponseParser.from(p)
            me.keepAlive = http_should_keep_alive(p) != 0
            me.completed.append(
                HTTPClientResponse(status: Int(p!.pointee.status_code), headers: me.headers, body: me.body))
            return 0
        }
    }

    deinit { parser.deallocate() }

    private static func from(_ p: UnsafeMutablePointer<http_parser>?) -> HTTPResponseParser {
        Unmanaged<HTTPResponseParser>.fromOpaque(p!.pointee.data).takeUnretainedValue()
    }

    private func store() {
        headers.add(name: String(decoding: field, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        field.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
        inValue = false
    }

    /// Feeds bytes; false on a malformed response.
    func parse(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let n = http_parser_execute(
            parser, &settings, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        return n == bytes.count && CHTTPParser_errno(parser) == HPE_OK
    }

    func takeCompleted() -> [HTTPClientResponse] {
        defer { completed.removeAll(keepingCapacity: true) }
        return completed
    }
}

/// Up to `maxConnections` keep-alive connections to one server; each carries one request at a
/// time, and requests beyond that wait in a FIFO.
///
/// ```swift
/// let client = HTTPClient(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 8080), maxConnections: 32)
/// client.send(method: "GET", path: "/healthz") { print($0) }
/// ```
public final class HTTPClient {
    public let loop: EventLoop
    public let endpoint: Endpoint
    public let maxConnections: Int
    private let hostHeader: String
    private var idle: [ClientConnection] = []
    private var open = 0
    private var waiting: [PendingRequest] = []
    private var waitingHead = 0
    private var closed = false

    struct PendingRequest {
        var bytes: [UInt8]
        var completion: (Result<HTTPClientResponse, HTTPClientError>) -> Void
    }

    public init(loop: EventLoop, endpoint: Endpoint, maxConnections: Int) {
        self.loop = loop
        self.endpoint = endpoint
        self.maxConnections = maxConnections
        if case .tcp(let host, let port) = endpoint { hostHeader = "\(host):\(port)" } else { hostHeader = "localhost" }
    }

    /// Sends one request; `completion` runs once, on the loop.
    public func send(
        method: String, path: String, headers: [(String, String)] = [], body: [UInt8]? = nil,
        completion: @escaping (Result<HTTPClientResponse, HTTPClientError>) -> Void
    ) {
        // Appended piece by piece: no intermediate strings or arrays (the load generator sends
        // tens of thousands of these a second, on the cores it measures).
        var bytes: [UInt8] = []
        bytes.reserveCapacity(128 + path.utf8.count + (body?.count ?? 0))
        bytes.append(contentsOf: method.utf8)
        bytes.append(UInt8(ascii: " "))
        bytes.append(contentsOf: path.utf8)
        bytes.append(contentsOf: " HTTP/1.1\r\nHost: ".utf8)
        bytes.append(contentsOf: hostHeader.utf8)
        bytes.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers {
            bytes.append(contentsOf: name.utf8)
            bytes.append(contentsOf: ": ".utf8)
            bytes.append(contentsOf: value.utf8)
            bytes.append(contentsOf: "\r\n".utf8)
        }
        if let body {
            bytes.append(contentsOf: "Content-Length: ".utf8)
            bytes.append(contentsOf: String(body.count).utf8)
            bytes.append(contentsOf: "\r\n\r\n".utf8)
            bytes.append(contentsOf: body)
        } else {
            bytes.append(contentsOf: "\r\n".utf8)
        }
        let request = PendingRequest(bytes: bytes, completion: completion)
        guard !closed else { return completion(.failure(HTTPClientError("client closed"))) }
        if let connection = idle.popLast() {
            connection.start(request)
        } else if open < maxConnections {
            open += 1
            ClientConnection.connect(client: self, first: request)
        } else {
            waiting.append(request)
        }
    }

    /// Requests waiting for a free connection.
    public var queued: Int { waiting.count - waitingHead }

    func connectionFree(_ connection: ClientConnection) {
        if waitingHead < waiting.count {
            let next = waiting[waitingHead]
            waitingHead += 1
            if waitingHead == waiting.count {
                waiting.removeAll(keepingCapacity: true)
                waitingHead = 0
            }
            connection.start(next)
        } else if closed {
            connection.close()
        } else {
            idle.append(connection)
        }
    }

    func connectionLost(_ connection: ClientConnection) {
        idle.removeAll { $0 === connection }
        open -= 1
        // Keep the queue moving on a fresh connection.
        if waitingHead < waiting.count, !closed {
            let next = waiting[waitingHead]
            waitingHead += 1
            open += 1
            ClientConnection.connect(client: self, first: next)
        }
    }

    public func close() {
        closed = true
        for c in idle { c.close() }
        idle.removeAll()
    }
}

final class ClientConnection {
    private unowned let client: HTTPClient
    private var stream: StreamConnection?
    private let parser = HTTPResponseParser()
    private var current: HTTPClient.PendingRequest?

    init(client: HTTPClient) { self.client = client }

    static func connect(client: HTTPClient, first: HTTPClient.PendingRequest) {
        let c = ClientConnection(client: client)
        c.current = first
        do {
            c.stream = try StreamConnection.connect(loop: client.loop, to: client.endpoint) { [c] result in
                switch result {
                case .success:
                    c.stream?.onRead = { [unowned c] bytes in c.didRead(bytes) }
                    c.stream?.onClose { [c] in c.didClose() }
                    c.stream?.startReading()
                    if let request = c.current { c.stream?.write(request.bytes) }
                case .failure(let error):
                    c.fail("connect \(client.endpoint): \(error)")
                    c.stream?.close()
                    c.stream = nil
                    client.connectionLost(c)
                }
            }
        } catch {
            c.fail("connect \(client.endpoint): \(error)")
            client.connectionLost(c)
        }
    }

    func start(_ request: HTTPClient.PendingRequest) {
        current = request
        stream?.write(request.bytes)
    }

    private func didRead(_ bytes: UnsafeRawBufferPointer) {
        guard parser.parse(bytes) else {
            fail("malformed response")
            stream?.close()
            return
        }
        for response in parser.takeCompleted() {
            let request = current
            current = nil
            request?.completion(.success(response))
        }
        if current == nil {
            if parser.keepAlive { client.connectionFree(self) } else { stream?.close() }
        }
    }

    private func fail(_ message: String) {
        let request = current
        current = nil
        request?.completion(.failure(HTTPClientError(message)))
    }

    private func didClose() {
        fail("connection closed: \(stream?.closeReason.map { "\($0)" } ?? "by the server")")
        client.connectionLost(self)
    }

    func close() { stream?.close() }
}
