// HTTPRequestParserTests: http-parser behind our bytes-in, events-out face, with no sockets.

import MeshHTTP
import Testing

struct HTTPRequestParserTests {
    /// Feeds `text` in pieces of `chunk` bytes; collects the events.
    func events(_ text: String, chunk: Int = .max, parser: HTTPRequestParser = HTTPRequestParser())
        -> [HTTPRequestParser.Event]
    {
        let bytes = Array(text.utf8)
        var out: [HTTPRequestParser.Event] = []
        var pending: [UInt8] = []
        var offset = 0
        while offset < bytes.count || !pending.isEmpty {
            let end = min(bytes.count, offset + chunk)
            pending += bytes[offset..<end]
            offset = end
            while !pending.isEmpty {
                let (used, event) = pending.withUnsafeBytes { parser.parse($0) }
                pending.removeFirst(used)
                guard let event else { break }
                out.append(event)
                if case .failure = event { return out }
            }
            if offset >= bytes.count && !pending.isEmpty && out.isEmpty { break }
        }
        return out
    }

    func requests(_ events: [HTTPRequestParser.Event]) -> [HTTPRequest] {
        events.compactMap { if case .request(let r) = $0 { r } else { nil } }
    }

    func failure(_ events: [HTTPRequestParser.Event]) -> HTTPParseError? {
        for case .failure(let e) in events { return e }
        return nil
    }

    @Test(arguments: [1, 3, 7, 1000])
    func pipelinedRequestsInAnyChunking(chunk: Int) {
        let text =
            "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"message\":\"a\"}"
            + "GET /status/abc?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
            + "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
            + "GET /last HTTP/1.0\r\n\r\n"
        let got = requests(events(text, chunk: chunk))
        #expect(got.count == 4)
        #expect(got.map(\.method) == ["POST", "GET", "POST", "GET"])
        #expect(got[0].body == Array("{\"message\":\"a\"}".utf8))
        #expect(got[0].mediaType == "application/json")
        #expect(got[0].headers["content-length"] == "15")
        #expect(got[1].path == "/status/abc" && got[1].query == "x=1")
        #expect(got[2].body == Array("abcde".utf8))
        #expect(got[0].keepAlive && got[1].keepAlive && !got[3].keepAlive)
    }

    @Test func headersOverTheLimitAre431() {
        let parser = HTTPRequestParser(maxHeaderBytes: 1024, maxBodyBytes: 1024)
        let text = "GET / HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 2000) + "\r\n\r\n"
        #expect(failure(events(text, parser: parser))?.status == 431)
        let longURL = "GET /" + String(repeating: "u", count: 2000) + " HTTP/1.1\r\n\r\n"
        #expect(failure(events(longURL, parser: HTTPRequestParser(maxHeaderBytes: 1024)))?.status == 431)
    }

    @Test func bodiesOverTheLimitAre413BeforeAnyBodyByteIsKept() {
        let parser = HTTPRequestParser(maxHeaderBytes: 1024, maxBodyBytes: 10)
        #expect(failure(events("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n", parser: parser))?.status == 413)
        let chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"
        #expect(failure(events(chunked, parser: HTTPRequestParser(maxBodyBytes: 10)))?.status == 413)
    }

    @Test(arguments: [
        "garbage\r\n\r\n", "\u{1}\u{2}\u{3}\u{4}", "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
    ])
    func garbageIs400(text: String) {
        #expect(failure(events(text))?.status == 400)
    }

    @Test func otherHTTPVersionsAre505() {
        #expect(failure(events("GET / HTTP/9.9\r\n\r\n"))?.status == 505)
        #expect(failure(events("GET / HTTP/0.9\r\n\r\n"))?.status == 505)
    }

    @Test func expectContinueIsAnnouncedOnce() {
        let e = events("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
        #expect(e.count == 1)
        guard case .continueExpected? = e.first else { Issue.record("no continue: \(e)"); return }
        #expect(failure(events("POST / HTTP/1.1\r\nExpect: magic\r\nContent-Length: 2\r\n\r\n"))?.status == 417)
    }

    @Test func eofInTheMiddleOfABodyIsAFailure() {
        let parser = HTTPRequestParser()
        let text = Array("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc".utf8)
        let (used, event) = text.withUnsafeBytes { parser.parse($0) }
        #expect(used == text.count && event == nil && parser.isMidRequest)
        guard case .failure(let e)? = parser.parseEOF() else { Issue.record(); return }
        #expect(e.status == 400)
    }
}

struct HTTPHeadersTests {
    @Test func namesMatchIgnoringASCIICaseOnly() {
        let h = HTTPHeaders([("Content-Type", "a"), ("X-Ä", "b"), ("Idempotency-Key", "k")])
        #expect(h["content-type"] == "a" && h["CONTENT-TYPE"] == "a" && h["Content-Type"] == "a")
        #expect(h["idempotency-KEY"] == "k")
        #expect(h["Content-Typ"] == nil && h["Content-Typf"] == nil)
        // Only letters fold: "@" (0x40) is not "`" (0x60), "[" is not "{".
        #expect(HTTPHeaders([("a@", "x")])["a`"] == nil && HTTPHeaders([("[", "x")])["{"] == nil)
        #expect(h["x-ä"] == nil, "non-ASCII bytes are compared as they are")
    }
}
