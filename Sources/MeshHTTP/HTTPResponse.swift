// HTTPResponse: a status, headers and a body, and their HTTP/1.1 serialization.

import Glibc
import MeshJSON

/// A response to send. The server adds `Content-Length`, `Date`, `Connection` and
/// `X-Content-Type-Options: nosniff` (every answer: a browser must never guess a type).
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response from already encoded bytes.
    public static func json(_ status: Int, _ body: [UInt8], headers: [(name: String, value: String)] = []) -> Self {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: body)
    }

    /// The error shape every alertmesh endpoint uses: `{"error": "<reason phrase>", "detail": "..."}`.
    public static func error(
        _ status: Int, _ detail: String, headers: [(name: String, value: String)] = []
    ) -> Self {
        var body: [UInt8] = []
        body.append(contentsOf: #"{"error":"#.utf8)
        JSONText.appendString(HTTPResponse.reasonPhrase(status).lowercased(), to: &body)
        body.append(contentsOf: #","detail":"#.utf8)
        JSONText.appendString(detail, to: &body)
        body.append(UInt8(ascii: "}"))
        return .json(status, body, headers: headers)
    }

    /// Appends the status line, headers and body.
    ///
    /// - Parameters:
    ///   - close: adds `Connection: close` (the server closes after this response).
    ///   - date: the `Date` header's value (see `HTTPDate`).
    ///   - headersOnly: the answer to a HEAD request: the GET answer's headers, no body.
    public func serialize(into out: inout [UInt8], close: Bool, date: String, headersOnly: Bool = false) {
        // Appended piece by piece: an interpolated line is a String allocated per response.
        out.append(contentsOf: "HTTP/1.1 ".utf8)
        out.append(contentsOf: String(status).utf8)
        out.append(UInt8(ascii: " "))
        out.append(contentsOf: HTTPResponse.reasonPhrase(status).utf8)
        out.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers {
            out.append(contentsOf: name.utf8)
            out.append(contentsOf: ": ".utf8)
            // A header value never carries CR or LF: no response splitting, whatever a handler passes.
            for byte in value.utf8 where byte != 13 && byte != 10 { out.append(byte) }
            out.append(contentsOf: "\r\n".utf8)
        }
        if status != 204 && status != 304 && !(100..<200).contains(status) {
            out.append(contentsOf: "Content-Length: ".utf8)
            out.append(contentsOf: String(body.count).utf8)
            out.append(contentsOf: "\r\n".utf8)
        }
        out.append(contentsOf: "Date: ".utf8)
        out.append(contentsOf: date.utf8)
        out.append(contentsOf: "\r\nX-Content-Type-Options: nosniff\r\n".utf8)
        if close { out.append(contentsOf: "Connection: close\r\n".utf8) }
        out.append(contentsOf: "\r\n".utf8)
        if !headersOnly { out.append(contentsOf: body) }
    }

    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 413: "Content Too Large"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status \(status)"
        }
    }
}

/// The IMF-fixdate a `Date` header carries (`Sun, 29 Nov 2026 15:09:07 GMT`), recomputed at most
/// once a second.
public struct HTTPDate {
    private var second: Int = -1
    private var text = ""

    public init() {}

    public mutating func now() -> String {
        var t = time(nil)
        if t == second { return text }
        second = t
        var parts = tm()
        gmtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 40)
        let n = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &parts)
        text = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text
    }
}
