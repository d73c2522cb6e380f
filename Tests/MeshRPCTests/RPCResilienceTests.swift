// RPCResilienceTests: restarts, failover, graceful drain, and peers that are not alertmesh at all.

import Foundation
import MeshLoop
import MeshProto
import MeshTestSupport
import MeshWire
import Testing

@testable import MeshRPC

@Suite struct RPCResilienceTests {
    @Test(arguments: ["unix", "tcp"])
    func clientReconnectsAfterServerRestart(transport: String) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        var server = makeServer(loop)
        let ep = try server.listen(
            on: transport == "unix" ? .unix(path: dir + "/r.sock") : .tcp(host: "127.0.0.1", port: 0))
        let client = makeClient(loop, [ep])
        var first: Bool?
        client.call(TestService.work, TestService.request("a")) { first = (try? $0.get()) != nil }
        run(loop) { first != nil }
        #expect(first == true)

        // Stop the server: the client sees the connection go, and calls fail fast meanwhile.
        var stopped = false
        server.shutdown(graceMs: 100) { stopped = true }
        run(loop) { stopped }
        spin(loop, ms: 30)
        var during: RPCError?
        client.call(TestService.work, TestService.request("b")) { if case .failure(let e) = $0 { during = e } }
        run(loop) { during != nil }
        #expect(during?.code == .unavailable)

        // Start it again on the same address: the client's backoff probe brings the endpoint back.
        server = makeServer(loop)
        try server.listen(on: ep)
        var after: Bool?
        run(loop, seconds: 5) {
            if after == nil && client.isConnected { after = false }
            return client.isConnected
        }
        client.call(TestService.work, TestService.request("c")) { after = (try? $0.get()) != nil }
        run(loop) { after == true }
        client.close()
        server.shutdown()
        finish(loop)
    }

    @Test func roundRobinAndFailoverAcrossEndpoints() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let a = makeServer(loop) { $0.name = "a" }
        let b = makeServer(loop) { $0.name = "b" }
        let epA = try a.listen(on: .unix(path: dir + "/a.sock"))
        let epB = try b.listen(on: .tcp(host: "127.0.0.1", port: 0))
        let dead = Endpoint.unix(path: dir + "/dead.sock")
        let client = makeClient(loop, [epA, dead, epB])
        var answeredBy: [Endpoint] = []
        var failures = 0
        func fire(_ n: Int) {
            for _ in 0..<n {
                client.call(methodID: TestService.work.descriptor.id.rawValue, payload: []) { result in
                    switch result {
                    case .success(let r): answeredBy.append(r.endpoint)
                    case .failure: failures += 1
                    }
                }
            }
        }
        fire(1)  // opens connections to all endpoints
        run(loop) { answeredBy.count + failures == 1 }
        run(loop) { client.isConnected }
        spin(loop, ms: 50)
        answeredBy.removeAll()
        fire(100)
        run(loop) { answeredBy.count + failures == 100 }
        #expect(failures == 0, "the dead endpoint must be out of rotation, not fail calls")
        #expect(answeredBy.filter { $0 == epA }.count == 50)
        #expect(answeredBy.filter { $0 == epB }.count == 50)

        // Take a down: every call goes to b.
        var aStopped = false
        a.shutdown(graceMs: 100) { aStopped = true }
        run(loop) { aStopped }
        spin(loop, ms: 30)
        answeredBy.removeAll()
        fire(20)
        run(loop) { answeredBy.count + failures == 20 }
        #expect(failures == 0)
        #expect(answeredBy.allSatisfy { $0 == epB })
        client.close()
        b.shutdown()
        finish(loop)
    }

    @Test func gracefulDrainFinishesInFlightCallsAndRefusesNewOnes() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop)
        let ep = try server.listen(on: .unix(path: dir + "/d.sock"))
        let client = makeClient(loop, [ep])
        var results: [Result<Alertmesh_V1_EchoResponse, RPCError>] = []
        for _ in 0..<10 {
            client.call(TestService.work, TestService.request("sleep:200")) { results.append($0) }
        }
        run(loop) { server.statsSnapshot().callsInFlight == 10 }
        var health: Alertmesh_V1_HealthCheckResponse?
        var stopped = false
        server.shutdown(graceMs: 5_000) { stopped = true }
        #expect(server.servingStatus(service: "") == .notServing)
        // New connections are refused (the listener is gone); the in-flight calls complete.
        run(loop) { results.count == 10 }
        #expect(results.allSatisfy { (try? $0.get()) != nil }, "in-flight calls must finish during a drain")
        run(loop) { stopped }
        #expect(!FileManager.default.fileExists(atPath: dir + "/d.sock"))
        client.call(SystemServices.health, Alertmesh_V1_HealthCheckRequest()) { health = try? $0.get() }
        spin(loop, ms: 50)
        #expect(health == nil)
        client.close()
        finish(loop)
    }

    @Test func drainGracePeriodCutsCallsThatDoNotFinish() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop)
        let ep = try server.listen(on: .unix(path: dir + "/g.sock"))
        let client = makeClient(loop, [ep])
        var result: Result<Alertmesh_V1_EchoResponse, RPCError>?
        client.call(TestService.work, TestService.request("sleep:3000")) { result = $0 }
        run(loop) { server.statsSnapshot().callsInFlight == 1 }
        var stopped = false
        server.shutdown(graceMs: 100) { stopped = true }
        run(loop) { stopped && result != nil }
        if case .failure(let e) = result { #expect(e.code == .unavailable) } else { Issue.record("expected failure") }
        client.close()
        spin(loop, ms: 3_100)  // let the test service's sleep timer fire and close
        finish(loop)
    }

    // MARK: Peers that do not speak the protocol

    @Test(arguments: [
        (
            "http", Array("GET /status HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
            "not an alertmesh endpoint (got HTTP: GET /status HTTP/1.1)"
        ),
        ("tls", [0x16, 0x03, 0x01, 0x00, 0xA5, 0x01], "not an alertmesh peer in plaintext: got a TLS record"),
        ("random", [0x5A, 0x03, 0x01, 0x00, 0xA5, 0x01], "not an alertmesh peer: bad preface 5a"),
        ("old-version", [0x89, 0x52, 0x50, 0x4D, 0x02, 0x00, 0x00, 0x00], "unsupported protocol version 2.0"),
    ])
    func garbageGetsAReasonAndAClosedConnection(name: String, bytes: [UInt8], reason: String) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop)
        let ep = try server.listen(on: .unix(path: dir + "/x.sock"))
        let peer = RawPeer(loop: loop, endpoint: ep)
        peer.send(bytes: bytes)
        run(loop) { peer.closed }
        #expect(peer.goawayReason?.hasPrefix(reason) == true, "got \(peer.goawayReason ?? "no GOAWAY")")
        #expect(server.statsSnapshot().protocolErrors == 1)
        // The server keeps serving others.
        let client = makeClient(loop, [ep])
        var ok = false
        client.call(TestService.work, TestService.request("still here")) { ok = (try? $0.get()) != nil }
        run(loop) { ok }
        client.close()
        server.shutdown()
        finish(loop)
    }

    @Test func protocolViolationsAfterHandshakeCloseWithGoaway() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop)
        let ep = try server.listen(on: .unix(path: dir + "/p.sock"))
        let cases: [(Frame?, [UInt8]?, String)] = [
            (Frame(type: .request, requestID: 2, methodID: 1), nil, "protocol error: request id 2 is not odd"),
            (Frame(type: .hello), nil, "protocol error: unexpected HELLO after the handshake"),
            (Frame(type: .response, requestID: 1), nil, "protocol error: server received RESPONSE"),
            (
                nil, [0, 0, 0, 16, 0xB1, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0],
                "protocol error: bad frame magic 0xb1"
            ),
            (
                nil, [0xFF, 0xFF, 0xFF, 0xFF, 0xA1, 3, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0],
                "protocol error: frame length 4294967295 exceeds"
            ),
        ]
        for (frame, raw, reason) in cases {
            let peer = RawPeer(loop: loop, endpoint: ep)
            peer.handshake()
            run(loop) { peer.ready }
            if let frame { peer.send(frame) }
            if let raw { peer.send(bytes: raw) }
            run(loop) { peer.closed }
            #expect(peer.goawayReason?.hasPrefix(reason) == true, "got \(peer.goawayReason ?? "no GOAWAY")")
        }
        server.shutdown()
        finish(loop)
    }

    @Test func unknownMethodAndUnknownFrameTypeAreAnsweredNotFatal() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop)
        let ep = try server.listen(on: .unix(path: dir + "/u.sock"))
        let peer = RawPeer(loop: loop, endpoint: ep)
        peer.handshake()
        run(loop) { peer.ready }
        peer.send(Frame(type: .request, requestID: 1, methodID: 0x7777_0001))
        // An unknown frame type 0x0b with request id 3.
        peer.send(bytes: [0, 0, 0, 19, 0xA1, 0x0B, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3])
        // A request with an undecodable payload.
        peer.send(
            Frame(
                type: .request, requestID: 5, methodID: TestService.work.descriptor.id.rawValue, payload: [0xFF, 0xFF]))
        // A request whose metadata block lies about its length.
        peer.send(bytes: [0, 0, 0, 19, 0xA1, 3, 0, 2, 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 0, 0x00, 0xFF, 1])
        peer.send(Frame(type: .ping, aux: 99))
        run(loop) { peer.frames.count == 5 }
        #expect(peer.frames[0].type == .error && peer.frames[0].aux == StatusCode.unimplemented.rawValue)
        #expect(try ErrorBody(parsing: peer.frames[0].payload).message.hasPrefix("unknown method #7777.0001"))
        #expect(peer.frames[1].requestID == 3 && peer.frames[1].aux == StatusCode.unimplemented.rawValue)
        #expect(peer.frames[2].requestID == 5 && peer.frames[2].aux == StatusCode.invalidArgument.rawValue)
        #expect(peer.frames[3].requestID == 7 && peer.frames[3].aux == StatusCode.invalidArgument.rawValue)
        #expect(peer.frames[4].type == .pong && peer.frames[4].aux == 99)
        #expect(!peer.closed)
        peer.close()
        server.shutdown()
        finish(loop)
    }

    @Test func silentPeerIsCutAtTheHandshakeTimeout() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop) { $0.timeouts.handshakeMs = 200 }
        let ep = try server.listen(on: .unix(path: dir + "/h.sock"))
        let peer = RawPeer(loop: loop, endpoint: ep)
        run(loop, seconds: 3) { peer.closed }
        #expect(peer.goawayReason == "handshake not completed within 200 ms")
        server.shutdown()
        finish(loop)
    }

    @Test func clientNamesAnHTTPServerAsSuch() throws {
        // A "server" that answers anything with an HTTP response.
        let loop = try EventLoop()
        var conns: [StreamConnection] = []
        let http = try StreamListener(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 0)) { c in
            conns.append(c)
            c.onRead = { _ in c.write(Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8)) }
            c.startReading()
        }
        let client = makeClient(loop, [http.endpoint])
        var error: RPCError?
        client.call(SystemServices.health, Alertmesh_V1_HealthCheckRequest()) {
            if case .failure(let e) = $0 { error = e }
        }
        run(loop) { error != nil }
        #expect(error?.code == .unavailable)
        #expect(
            error?.message.contains("not an alertmesh endpoint (got HTTP: HTTP/1.1 400 Bad Request)") == true,
            "got \(error?.message ?? "-")")
        client.close()
        for c in conns { c.close() }
        http.close()
        finish(loop)
    }

    @Test func keepaliveDetectsAHungServer() throws {
        // A listener that accepts and then never says a word after the handshake bytes.
        let loop = try EventLoop()
        var conns: [StreamConnection] = []
        let mute = try StreamListener(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 0)) { c in
            conns.append(c)
            var hello = HelloSettings()
            hello.peer = "mute"
            c.write(Preface().bytes + Frame(type: .helloAck, metadata: hello.metadata).bytes)
            c.startReading()
        }
        let client = makeClient(loop, [mute.endpoint]) {
            $0.timeouts.pingIntervalMs = 100
            $0.timeouts.pingTimeoutMs = 200
        }
        var error: RPCError?
        client.call(TestService.work, TestService.request("x")) { if case .failure(let e) = $0 { error = e } }
        run(loop, seconds: 5) { error != nil }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("keepalive") == true, "got \(error?.message ?? "-")")
        client.close()
        for c in conns { c.close() }
        mute.close()
        finish(loop)
    }
}

@Suite struct RPCBackpressureAndTimeoutTests {
    @Test func aPeerThatNeverReadsIsThrottledNotBuffered() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop) { $0.timeouts.writeBacklogLimit = 256 * 1024 }
        let ep = try server.listen(on: .unix(path: dir + "/b.sock"))
        let peer = RawPeer(loop: loop, endpoint: ep)
        peer.handshake()
        run(loop) { peer.ready }
        peer.stream.stopReading()
        // 400 echo calls of 64 KiB each: 25 MiB of answers the peer does not read yet.
        var req = Alertmesh_V1_EchoRequest()
        req.payload = Data(repeating: 0x61, count: 64 * 1024)
        let payload = try req.serializedBytes() as [UInt8]
        let n = 400
        for i in 0..<n {
            peer.send(
                Frame(
                    type: .request, requestID: UInt32(2 * i + 1), methodID: SystemServices.echo.descriptor.id.rawValue,
                    payload: payload))
        }
        spin(loop, ms: 500)
        let served = server.statsSnapshot().methods.first { $0.method == "_sys.Echo/Echo" }?.calls ?? 0
        #expect(served < UInt64(n), "the server kept reading although its answers were not being read")
        // Once the peer reads, everything is answered.
        peer.stream.startReading()
        run(loop, seconds: 20) { peer.frames.count == n }
        #expect(peer.frames.allSatisfy { $0.type == .response && $0.payload.count == payload.count })
        peer.close()
        server.shutdown()
        finish(loop)
    }

    @Test func connectTimeoutFailsTheCallWithAClearMessage() throws {
        // A listener whose accept queue is full: further SYNs are dropped, so connects hang.
        let full = LoopbackSocket.listenTCP(backlog: 0)
        defer { full.close() }
        let port = full.port
        let fillers = (0..<8).map { _ in full.connectNonBlocking() }
        defer { fillers.forEach { close($0) } }
        let loop = try EventLoop()
        let client = makeClient(loop, [.tcp(host: "127.0.0.1", port: port)]) { $0.connectTimeoutMs = 300 }
        var error: RPCError?
        let started = Date()
        client.call(TestService.work, TestService.request("x")) { if case .failure(let e) = $0 { error = e } }
        run(loop, seconds: 5) { error != nil }
        #expect(error?.code == .unavailable)
        #expect(error?.message == "tcp://127.0.0.1:\(port): connect timed out after 300 ms")
        #expect(Date().timeIntervalSince(started) < 2)
        client.close()
        finish(loop)
    }
}
