// HTTPRequestParser: Node's http-parser 2.9 behind a bytes-in, events-out interface.

internal import CHTTPParser

/// Why a request could not be parsed, with the status to answer it with.
public struct HTTPParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// 400, 413 or 431.
    public var status: Int
    public var detail: String

    public init(status: Int, detail: String) {
        self.status = status
        self.detail = detail
    }

    public var description: String { "\(status): \(detail)" }
}

/// Feeds bytes to http-parser and returns one request at a time.
///
/// The parser pauses after each complete request, so a caller serving pipelined requests
/// handles them strictly in order and keeps the unparsed rest (http-parser's own pause, as Node
/// uses it). Limits are checked before anything is kept: the request line plus headers may not
/// pass `maxHeaderBytes` (431), a body may not pass `maxBodyBytes` (413, checked against
/// Content-Length before any body byte is stored, and as chunks arrive).
///
/// ```swift
/// let parser = HTTPRequestParser(maxHeaderBytes: 16 << 10, maxBodyBytes: 1 << 20)
/// let (used, event) = bytes.withUnsafeBytes { parser.parse($0) }
/// ```
public final class HTTPRequestParser {
    public enum Event: Sendable {
        /// A complete request; the parser waits for the next `parse` call to go on.
        case request(HTTPRequest)
        /// The headers asked for `Expect: 100-continue` and the body is acceptable: send
        /// `100 Continue` now, then keep feeding.
        case continueExpected
        /// The input is not acceptable HTTP; answer with `status` and close.
        case failure(HTTPParseError)
    }

    public let maxHeaderBytes: Int
    public let maxBodyBytes: Int

    private let parser: UnsafeMutablePointer<http_parser>
    private var settings = http_parser_settings()

    // The request being assembled.
    private var method = ""
    private var url: [UInt8] = []
    private var headers = HTTPHeaders()
    private var field: [UInt8] = []
    private var value: [UInt8] = []
    private var inValue = false
    private var headerBytes = 0
    private var body: [UInt8] = []
    private var keepAlive = true
    private var versionMajor = 1
    private var versionMinor = 1
    private var expectsContinue = false

    // What the last callback produced.
    private var completed: HTTPRequest?
    private var limitError: HTTPParseError?
    private var continuePending = false
    private var failed = false

    /// Whether bytes of a request that is not yet complete have been read.
    public private(set) var isMidRequest = false

    public init(maxHeaderBytes: Int = 16 << 10, maxBodyBytes: Int = 1 << 20) {
        self.maxHeaderBytes = maxHeaderBytes
        self.maxBodyBytes = maxBodyBytes
        parser = .allocate(capacity: 1)
        http_parser_init(parser, HTTP_REQUEST)
        http_parser_settings_init(&settings)
        // The callbacks run only inside `http_parser_execute`, called from `parse` while `self` is
        // alive, so `data` holds an unretained reference.
        parser.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        settings.on_message_begin = { p in HTTPRequestParser.from(p).messageBegan() }
        settings.on_url = { p, at, n in HTTPRequestParser.from(p).appendURL(at, n) }
        settings.on_header_field = { p, at, n in HTTPRequestParser.from(p).appendField(at, n) }
        settings.on_header_value = { p, at, n in HTTPRequestParser.from(p).appendValue(at, n) }
        settings.on_headers_complete = { p in HTTPRequestParser.from(p).headersCompleted() }
        settings.on_body = { p, at, n in HTTPRequestParser.from(p).appendBody(at, n) }
        settings.on_message_complete = { p in HTTPRequestParser.from(p).messageCompleted() }
    }

    deinit { parser.deallocate() }

    private static func from(_ p: UnsafeMutablePointer<http_parser>?) -> HTTPRequestParser {
        Unmanaged<HTTPRequestParser>.fromOpaque(p!.pointee.data).takeUnretainedValue()
    }

    /// Parses from the start of `bytes`.
    ///
    /// - Returns: how many bytes were used, and what they completed (nil: all used, need more).
    ///   After `.failure` the parser is dead; the connection must close.
    public func parse(_ bytes: UnsafeRawBufferPointer) -> (consumed: Int, event: Event?) {
        if failed { return (0, .failure(HTTPParseError(status: 400, detail: "connection already failed"))) }
        guard !bytes.isEmpty else { return (0, nil) }
        if CHTTPParser_errno(parser) == HPE_PAUSED { http_parser_pause(parser, 0) }
        isMidRequest = true
        let used = http_parser_execute(
            parser, &settings, bytes.baseAddress!.assumingMemoryBound(to: CChar.self), bytes.count)
        return finish(consumed: Int(used))
    }

    /// Tells the parser the peer closed its side.
    ///
    /// - Returns: `.failure` when a request was cut short (a body shorter than its Content-Length).
    public func parseEOF() -> Event? {
        guard !failed, isMidRequest else { return nil }
        if CHTTPParser_errno(parser) == HPE_PAUSED { http_parser_pause(parser, 0) }
        _ = http_parser_execute(parser, &settings, nil, 0)
        if case .request(let r)? = finish(consumed: 0).event { return .request(r) }
        failed = true
        return .failure(HTTPParseError(status: 400, detail: "the connection closed in the middle of a request"))
    }

    private func finish(consumed: Int) -> (consumed: Int, event: Event?) {
        let errno = CHTTPParser_errno(parser)
        if let request = completed {
            completed = nil
            return (consumed, .request(request))
        }
        if let limitError {
            failed = true
            return (consumed, .failure(limitError))
        }
        if errno != HPE_OK && errno != HPE_PAUSED {
            failed = true
            let name = String(cString: http_errno_name(errno))
            let text = String(cString: http_errno_description(errno))
            return (consumed, .failure(HTTPParseError(status: 400, detail: "malformed request: \(text) (\(name))")))
        }
        if continuePending {
            continuePending = false
            return (consumed, .continueExpected)
        }
        return (consumed, nil)
    }

    // MARK: Callbacks (return non-zero to stop the parser with an error)

    private func messageBegan() -> Int32 {
        isMidRequest = true
        url.removeAll(keepingCapacity: true)
        headers = HTTPHeaders()
        field.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
        inValue = false
        headerBytes = 0
        body = []
        expectsContinue = false
        return 0
    }

    private func countHeaderBytes(_ n: Int) -> Bool {
        headerBytes += n
        if headerBytes > maxHeaderBytes {
            limitError = HTTPParseError(
                status: 431, detail: "request line and headers are over the limit of \(maxHeaderBytes) bytes")
            return false
        }
        return true
    }

    private func appendURL(_ at: UnsafePointer<CChar>?, _ n: Int) -> Int32 {
        guard countHeaderBytes(n) else { return 1 }
        url.append(contentsOf: UnsafeRawBufferPointer(start: at, count: n))
        return 0
    }

    private func appendField(_ at: UnsafePointer<CChar>?, _ n: Int) -> Int32 {
        guard countHeaderBytes(n + 4) else { return 1 }  // ": " and CRLF count too
        if inValue {
            storeHeader()
            inValue = false
        }
        field.append(contentsOf: UnsafeRawBufferPointer(start: at, count: n))
        return 0
    }

    private func appendValue(_ at: UnsafePointer<CChar>?, _ n: Int) -> Int32 {
        guard countHeaderBytes(n) else { return 1 }
        inValue = true
        value.append(contentsOf: UnsafeRawBufferPointer(start: at, count: n))
        return 0
    }

    private func storeHeader() {
        headers.add(name: String(decoding: field, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
        field.removeAll(keepingCapacity: true)
        value.removeAll(keepingCapacity: true)
    }

    private func headersCompleted() -> Int32 {
        if inValue || !field.isEmpty { storeHeader() }
        inValue = false
        let p = parser.pointee
        method = String(cString: http_method_str(http_method(rawValue: p.method)))
        versionMajor = Int(p.http_major)
        versionMinor = Int(p.http_minor)
        keepAlive = http_should_keep_alive(parser) != 0
        guard versionMajor == 1 else {
            limitError = HTTPParseError(
                status: 505, detail: "HTTP/\(versionMajor).\(versionMinor) is not supported; use HTTP/1.1")
            return -1
        }
        let chunked = CHTTPParser_isChunked(parser) != 0
        if !chunked && p.content_length != UInt64.max && p.content_length > UInt64(maxBodyBytes) {
            limitError = HTTPParseError(
                status: 413, detail: "the body of \(p.content_length) bytes is over the limit of \(maxBodyBytes) bytes")
            return -1  // 0, 1 and 2 mean go on; anything else stops the parser (HPE_CB_headers_complete)
        }
        if let expect = headers["Expect"] {
            guard expect.lowercased() == "100-continue" else {
                limitError = HTTPParseError(status: 417, detail: "unsupported expectation \(expect)")
                return -1
            }
            if versionMajor == 1 && versionMinor >= 1 { continuePending = true }
        }
        if !chunked, p.content_length != UInt64.max, p.content_length > 0 {
            body.reserveCapacity(Int(p.content_length))
        }
        return 0
    }

    private func appendBody(_ at: UnsafePointer<CChar>?, _ n: Int) -> Int32 {
        continuePending = false
        if body.count + n > maxBodyBytes {
            limitError = HTTPParseError(status: 413, detail: "the body is over the limit of \(maxBodyBytes) bytes")
            return 1
        }
        body.append(contentsOf: UnsafeRawBufferPointer(start: at, count: n))
        return 0
    }

    private func messageCompleted() -> Int32 {
        continuePending = false
        completed = HTTPRequest(
            method: method, target: String(decoding: url, as: UTF8.self), versionMajor: versionMajor,
            versionMinor: versionMinor, headers: headers, body: body, keepAlive: keepAlive)
        body = []
        isMidRequest = false
        http_parser_pause(parser, 1)
        return 0
    }
}
