// HTTPServerTests: the server on a real loop and real sockets, with well- and ill-behaved clients.

import Foundation
import MeshHTTP
import MeshLoop
import MeshTestSupport
import Testing

@Suite struct HTTPServerTests {
    func run(_ loop: EventLoop, seconds: Double = 20, until condition: () -> Bool) {
        let finished = runLoop(loop, seconds: seconds, until: condition)
        #expect(finished, "timed out after \(seconds) s")
    }

    /// A server that echoes method, path and body; `/slow` answers after 50 ms.
    func makeServer(_ loop: EventLoop, configure: (inout HTTPServer.Configuration) -> Void = { _ in }) throws
        -> HTTPServer
    {
        var configuration = HTTPServer.Configuration()
        configure(&configuration)
        return try HTTPServer(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 0), configuration: configuration) {
            request, responder in
            let body = Array("\(request.method) \(request.path) \(String(decoding: request.body, as: UTF8.self))".utf8)
            if request.path == "/slow" {
                let timer = try! LoopTimer(loop: loop)
                timer.start(afterMs: 50) {
                    responder.respond(HTTPResponse(status: 200, body: body))
                    timer.close()
                }
            } else {
                responder.respond(HTTPResponse(status: 200, body: body))
            }
        }
    }

    func port(_ server: HTTPServer) -> UInt16 {
        guard case .tcp(_, let port) = server.endpoint else { fatalError() }
        return port
    }

    func finish(_ loop: EventLoop, _ server: HTTPServer) {
        server.close()
        run(loop, until: { server.isDrained })
        loop.runUntilHandlesClosed(maxTurns: 20)
        #expect(throws: Never.self) { try loop.close() }
    }

    func exchange<T>(_ loop: EventLoop, _ body: @escaping @Sendable () -> T) -> T {
        let job = BackgroundJob(body)
        run(loop, until: { job.isDone })
        return job.result
    }

    @Test func keepAliveAndPipeliningAnswerInOrder() throws {
        let loop = try EventLoop()
        let server = try makeServer(loop)
        let p = port(server)
        let (responses, closed) = exchange(loop) {
            let c = BlockingClient(port: p)
            defer { c.close() }
            // Three pipelined requests in one write, one of them answered late: order must hold.
            c.send(
                "GET /slow HTTP/1.1\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /c HTTP/1.1\r\n\r\n")
            var (r, closed) = c.receiveResponses(3)
            c.send("GET /d HTTP/1.1\r\nConnection: close\r\n\r\n")
            let (more, closedAtEnd) = c.receiveResponses(1)
            r += more
            closed = closed || closedAtEnd
            // After Connection: close the server closes.
            let (_, eof) = c.receive()
            return (r, eof)
        }
        #expect(responses.count == 4)
        #expect(responses[0].hasSuffix("GET /slow "))
        #expect(responses[1].hasSuffix("POST /b hi"))
        #expect(responses[2].hasSuffix("GET /c "))
        #expect(responses[3].contains("Connection: close") && responses[3].hasSuffix("GET /d "))
        #expect(responses.allSatisfy { $0.hasPrefix("HTTP/1.1 200 OK\r\n") && $0.contains("Date: ") })
        #expect(closed)
        #expect(server.stats.requests == 4)
        finish(loop, server)
    }

    @Test func garbageGets400AndTheServerKeepsServing() throws {
        let loop = try EventLoop()
        let server = try makeServer(loop)
        let p = port(server)
        let (bad, good) = exchange(loop) {
            let c = BlockingClient(port: p)
            c.send([0x16, 0x03, 0x01, 0x00, 0xff, 0x01] + Array("\r\n\r\n".utf8))  // a TLS hello, say
            let bad = c.receive()
            c.close()
            let d = BlockingClient(port: p)
            d.send("GET /ok HTTP/1.1\r\n\r\n")
            let good = d.receiveResponses(1).responses
            d.close()
            return (bad, good)
        }
        #expect(bad.text.hasPrefix("HTTP/1.1 400 Bad Request\r\n") && bad.closed)
        #expect(bad.text.contains(#""error":"bad request""#))
        #expect(good.first?.hasSuffix("GET /ok ") == true)
        #expect(server.stats.malformed == 1)
        finish(loop, server)
    }

    @Test func oversizedHeadersAndBodiesGetTheirStatus() throws {
        let loop = try EventLoop()
        let server = try makeServer(loop) {
            $0.maxHeaderBytes = 2048
            $0.maxBodyBytes = 100
        }
        let p = port(server)
        let (headers, body) = exchange(loop) {
            let c = BlockingClient(port: p)
            c.send("GET / HTTP/1.1\r\nX-A: " + String(repeating: "a", count: 4000) + "\r\n\r\n")
            let h = c.receive().text
            c.close()
            let d = BlockingClient(port: p)
            d.send("POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n")
            let b = d.receive().text
            d.close()
            return (h, b)
        }
        #expect(headers.hasPrefix("HTTP/1.1 431 "))
        #expect(body.hasPrefix("HTTP/1.1 413 "))
        finish(loop, server)
    }

    @Test func slowAndShortClientsAreCutOffWhileOthersAreServed() throws {
        let loop = try EventLoop()
        let server = try makeServer(loop) { $0.requestTimeoutMs = 600 }
        let p = port(server)
        let (slow, short, other) = exchange(loop) {
            // One byte every 100 ms: never a whole request within 600 ms.
            let slowJob = BackgroundJob { () -> String in
                let c = BlockingClient(port: p)
                defer { c.close() }
                for byte in Array("GET / HTTP/1.1\r\nHost: slow\r\n\r\n".utf8) {
                    c.send([byte])
                    usleep(100_000)
                }
                return c.receive().text
            }
            // A body shorter than its Content-Length, then silence.
            let c = BlockingClient(port: p)
            c.send("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
            let short = c.receive().text
            c.close()
            let d = BlockingClient(port: p)
            d.send("GET /other HTTP/1.1\r\n\r\n")
            let other = d.receiveResponses(1).responses.first ?? ""
            d.close()
            while !slowJob.isDone { usleep(10_000) }
            return (slowJob.result, short, other)
        }
        #expect(slow.hasPrefix("HTTP/1.1 408 "))
        #expect(short.hasPrefix("HTTP/1.1 408 "))
        #expect(other.hasSuffix("GET /other "))
        #expect(server.stats.timedOut == 2)
        finish(loop, server)
    }

    @Test func halfClosedClientStillGetsItsAnswer() throws {
        let loop = try EventLoop()
        let server = try makeServer(loop)
        let p = port(server)
        let (answer, truncated) = exchange(loop) {
            let c = BlockingClient(port: p)
            c.send("GET /slow HTTP/1.1\r\n\r\n")
            c.shutdownWrite()
            let a = c.receive()
            c.close()
            let d = BlockingClient(port: p)
            d.send("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc")
            d.shutdownWrite()
            let t = d.receive()
            d.close()
            return (a, t)
        }
        #expect(answer.text.hasSuffix("GET /slow ") && answer.text.contains("Connection: close") && answer.closed)
        #expect(truncated.text.hasPrefix("HTTP/1.1 400 ") && truncated.closed)
        finish(loop, server)
    }

    @Test func connectionsOverTheCapGet503() throws {
        let loop = try EventLoop()
        let server = try makeServer(loop) { $0.maxConnections = 2 }
        let p = port(server)
        let (third, afterwards) = exchange(loop) {
            let a = BlockingClient(port: p)
            let b = BlockingClient(port: p)
            a.send("GET /a HTTP/1.1\r\n\r\n")
            b.send("GET /b HTTP/1.1\r\n\r\n")
            _ = a.receiveResponses(1)
            _ = b.receiveResponses(1)
            let c = BlockingClient(port: p)
            let third = c.receive().text
            c.close()
            a.close()
            b.close()
            usleep(100_000)
            let d = BlockingClient(port: p)
            d.send("GET /d HTTP/1.1\r\n\r\n")
            let after = d.receiveResponses(1).responses.first ?? ""
            d.close()
            return (third, after)
        }
        #expect(third.hasPrefix("HTTP/1.1 503 ") && third.contains("Retry-After: 1"))
        #expect(afterwards.hasSuffix("GET /d "))
        #expect(server.stats.rejected == 1)
        finish(loop, server)
    }

    /// A last answer (`Connection: close`) that the client never reads may not hold its
    /// connection: past `closeWriteTimeoutMs` the connection is cut and its slot is free.
    @Test func aClientThatNeverReadsItsLastAnswerIsCutOff() throws {
        let loop = try EventLoop()
        var configuration = HTTPServer.Configuration()
        configuration.closeWriteTimeoutMs = 300
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 32 << 20)  // far more than socket buffers
        let server = try HTTPServer(
            loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 0), configuration: configuration
        ) {
            _, responder in responder.respond(HTTPResponse(status: 200, body: big))
        }
        let p = port(server)
        let release = ThreadFlag()
        let job = BackgroundJob {
            let c = BlockingClient(port: p)
            c.send("GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            release.wait()  // never reads
            c.close()
            return true
        }
        run(loop, until: { server.stats.open == 1 })
        run(loop, seconds: 5, until: { server.stats.open == 0 })
        #expect(server.stats.timedOut == 1)
        release.set()
        run(loop, until: { job.isDone })
        finish(loop, server)
    }

    @Test func headGetsTheHeadersOfGetWithoutTheBody() throws {
        let loop = try EventLoop()
        let server = try makeServer(loop)
        let p = port(server)
        let text = exchange(loop) {
            let c = BlockingClient(port: p)
            defer { c.close() }
            c.send("HEAD /h HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\n\r\n")
            return c.receive { $0.hasSuffix("GET /g ") }.text
        }
        // The HEAD answer announces GET's length ("HEAD /h " is 8 bytes) and carries no body.
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\nContent-Length: 8\r\n"))
        let parts = text.components(separatedBy: "HTTP/1.1 200 OK")
        #expect(parts.count == 3 && parts[1].hasSuffix("\r\n\r\n"))
        finish(loop, server)
    }

    @Test func expectContinueGets100ThenTheAnswer() throws {
        let loop = try EventLoop()
        let server = try makeServer(loop)
        let p = port(server)
        let text = exchange(loop) {
            let c = BlockingClient(port: p)
            defer { c.close() }
            c.send("POST /e HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
            let first = c.receive { $0.hasSuffix("\r\n\r\n") }.text
            c.send("body")
            return first + c.receiveResponses(1).responses.joined()
        }
        #expect(text.hasPrefix("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"))
        #expect(text.hasSuffix("POST /e body"))
        finish(loop, server)
    }
}
