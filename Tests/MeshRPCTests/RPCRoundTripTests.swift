// Server + client over real Unix and TCP sockets: calls, concurrency, deadlines, limits.

import Foundation
import MeshLoop
import MeshProto
import MeshWire
import Testing

@testable import MeshRPC

@Suite struct RPCRoundTripTests {
    static let transports = ["unix", "tcp"]

    func listen(_ server: RPCServer, _ transport: String, dir: String) -> Endpoint {
        let ep: Endpoint = transport == "unix" ? .unix(path: dir + "/s.sock") : .tcp(host: "127.0.0.1", port: 0)
        return try! server.listen(on: ep)
    }

    @Test(arguments: transports)
    func simpleCallAndBuiltins(transport: String) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop)
        let ep = listen(server, transport, dir: dir)
        let client = makeClient(loop, [ep])
        var echoed: String?
        var health: Alertmesh_V1_HealthCheckResponse?
        var reflection: Alertmesh_V1_ReflectionListResponse?
        client.call(TestService.work, TestService.request("hello")) { result in
            echoed = String(decoding: try! result.get().payload, as: UTF8.self)
        }
        client.call(SystemServices.health, Alertmesh_V1_HealthCheckRequest()) { health = try? $0.get() }
        client.call(SystemServices.reflectionList, Alertmesh_V1_ReflectionListRequest()) { reflection = try? $0.get() }
        run(loop) { echoed != nil && health != nil && reflection != nil }
        #expect(echoed == "hello")
        #expect(health?.status == .serving)
        let names = reflection?.services.flatMap { $0.methods.map(\.fullName) } ?? []
        #expect(names.contains("test.Work/Do"))
        #expect(names.contains("_sys.Health/Check"))
        let work = reflection?.services.flatMap(\.methods).first { $0.fullName == "test.Work/Do" }
        #expect(work?.requestTemplate == #"{"payload": ""}"#)
        #expect(work?.requestSchema.contains("bytes payload = 1;") == true)

        var stats: Alertmesh_V1_StatsResponse?
        client.call(SystemServices.stats, Alertmesh_V1_StatsRequest()) { stats = try? $0.get() }
        run(loop) { stats != nil }
        #expect(stats?.connectionsOpen == 1)
        #expect(stats?.methods.first { $0.method == "test.Work/Do" }?.byStatus["OK"] == 1)
        client.close()
        var stopped = false
        server.shutdown { stopped = true }
        run(loop) { stopped }
        finish(loop)
    }

    @Test(arguments: transports)
    func manyConcurrentCallsAnsweredOutOfOrder(transport: String) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop)
        let ep = listen(server, transport, dir: dir)
        let client = makeClient(loop, [ep])
        var order: [Int] = []
        let n = 200
        for i in 0..<n {
            // Later calls sleep less, so they are answered first.
            let text = "sleep:\((n - i) / 10)"
            client.call(TestService.work, TestService.request(text)) { result in
                #expect((try? result.get().payload) == Data(text.utf8))
                order.append(i)
            }
        }
        #expect(client.inFlightCount <= n)
        run(loop) { order.count == n }
        #expect(Set(order) == Set(0..<n))
        #expect(order != Array(0..<n), "answers came back in call order; expected out of order")
        client.close()
        server.shutdown()
        finish(loop)
    }

    @Test(arguments: transports)
    func deadlineExceededFailsLocallyAndServerStops(transport: String) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop)
        let ep = listen(server, transport, dir: dir)
        let client = makeClient(loop, [ep])
        var result: Result<Alertmesh_V1_EchoResponse, RPCError>?
        client.call(TestService.work, TestService.request("sleep:2000"), timeoutMs: 100) { result = $0 }
        let started = Date()
        run(loop) { result != nil }
        let elapsed = Date().timeIntervalSince(started)
        guard case .failure(let error) = result else { Issue.record("expected failure"); return }
        #expect(error.code == .deadlineExceeded)
        #expect(error.message == "deadline exceeded after 100 ms")
        #expect(elapsed < 1.5)
        // The server saw the deadline (or the CANCEL) and stopped counting the call in flight.
        spin(loop, ms: 150)
        #expect(server.statsSnapshot().callsInFlight == 0)
        // The connection is still good.
        var ok = false
        client.call(TestService.work, TestService.request("x")) { ok = (try? $0.get()) != nil }
        run(loop) { ok }
        client.close()
        server.shutdown()
        finish(loop)
    }

    @Test func serverAnswersDeadlineExceededWhenClientWaitsLonger() throws {
        // A raw call with a 50 ms budget but no client-side timer: the server's own deadline fires.
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop)
        let ep = try server.listen(on: .unix(path: dir + "/s.sock"))
        let conn = RawPeer(loop: loop, endpoint: ep)
        conn.handshake()
        run(loop) { conn.ready }
        var req = TestService.request("sleep:1000")
        conn.send(
            Frame(
                type: .request, requestID: 1, methodID: TestService.work.descriptor.id.rawValue, aux: 50,
                payload: try req.serializedBytes()))
        run(loop) { !conn.frames.isEmpty }
        #expect(conn.frames.first?.type == .error)
        #expect(conn.frames.first?.aux == StatusCode.deadlineExceeded.rawValue)
        req = Alertmesh_V1_EchoRequest()
        conn.close()
        server.shutdown()
        finish(loop)
    }

    @Test(arguments: transports)
    func oversizedRequestGetsResourceExhaustedAndConnectionSurvives(transport: String) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop) { $0.maxFrame = 64 * 1024 }
        let ep = listen(server, transport, dir: dir)
        // The client allows more than the server, so the oversized frame really goes out.
        let conn = RawPeer(loop: loop, endpoint: ep)
        conn.handshake()
        run(loop) { conn.ready }
        let big = [UInt8](repeating: 0x41, count: 200 * 1024)
        conn.send(Frame(type: .request, requestID: 1, methodID: TestService.work.descriptor.id.rawValue, payload: big))
        var small = TestService.request("after")
        conn.send(
            Frame(
                type: .request, requestID: 3, methodID: TestService.work.descriptor.id.rawValue,
                payload: try small.serializedBytes()))
        run(loop) { conn.frames.count >= 2 }
        #expect(conn.frames[0].type == .error)
        #expect(conn.frames[0].requestID == 1)
        #expect(conn.frames[0].aux == StatusCode.resourceExhausted.rawValue)
        #expect(conn.frames[1].type == .response)
        #expect(conn.frames[1].requestID == 3)
        small = Alertmesh_V1_EchoRequest()
        // And the typed client refuses locally before sending.
        let client = makeClient(loop, [ep])
        var local: RPCError?
        client.call(TestService.work, TestService.request(String(repeating: "x", count: 100 * 1024))) {
            if case .failure(let e) = $0 { local = e }
        }
        run(loop) { local != nil }
        #expect(local?.code == .resourceExhausted)
        client.close()
        conn.close()
        server.shutdown()
        finish(loop)
    }
}

@Suite struct RPCConcurrencyLimitTests {
    @Test func callsBeyondTheServersMaxConcurrentWaitTheirTurn() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop) { $0.maxConcurrentCallsPerConnection = 2 }
        let ep = try server.listen(on: .unix(path: dir + "/c.sock"))
        let client = makeClient(loop, [ep])
        var ok = 0
        var failed: [RPCError] = []
        for _ in 0..<20 {
            client.call(TestService.work, TestService.request("sleep:10")) { result in
                switch result {
                case .success: ok += 1
                case .failure(let e): failed.append(e)
                }
            }
        }
        run(loop) { ok + failed.count == 20 }
        #expect(failed.isEmpty, "\(failed)")
        #expect(ok == 20)
        // The server never saw more than its limit: nothing was refused.
        #expect(server.statsSnapshot().methods.first { $0.method == "test.Work/Do" }?.byStatus["UNAVAILABLE"] == nil)
        client.close()
        server.shutdown()
        finish(loop)
    }
}
