// NotProcessedTests: a failed call says whether a server may have run it — what lets the worker
// count an attempt only when an alert-service really took it.

import Foundation
import MeshLoop
import MeshProto
import MeshTestSupport
import MeshWire
import Testing

@testable import MeshRPC

@Suite struct NotProcessedTests {
    private func outcome(
        _ loop: EventLoop, _ client: RPCClient, _ text: String, timeoutMs: UInt64 = 0
    ) -> RPCError? {
        var result: Result<Alertmesh_V1_EchoResponse, RPCError>?
        client.call(TestService.work, TestService.request(text), timeoutMs: timeoutMs) { result = $0 }
        run(loop) { result != nil }
        if case .failure(let e) = result { return e }
        return nil
    }

    @Test func noEndpointUpFailsUnavailableNotProcessed() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let client = makeClient(loop, [.unix(path: dir + "/nobody.sock")])
        let error = try #require(outcome(loop, client, "x"))
        #expect(error.code == .unavailable)
        #expect(error.notProcessed, "\(error)")
        client.close()
        finish(loop)
    }

    @Test func aServerOverItsLimitRefusesNotProcessed() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop) { $0.maxConcurrentCallsPerConnection = 1 }
        let ep = try server.listen(on: .unix(path: dir + "/s.sock"))
        // A peer that ignores the limit (the reference client queues under it): the server refuses
        // the second call and says it did not run it.
        let peer = RawPeer(loop: loop, endpoint: ep)
        peer.handshake()
        run(loop) { peer.ready }
        let payload: [UInt8] = try TestService.request("sleep:200").serializedBytes()
        for id: UInt32 in [1, 3] {
            peer.send(
                Frame(
                    type: .request, requestID: id, methodID: TestService.work.descriptor.id.rawValue, payload: payload))
        }
        run(loop) { peer.frames.filter { $0.type == .error || $0.type == .response }.count == 2 }
        let refused = try #require(peer.frames.first { $0.type == .error })
        #expect(refused.requestID == 3)
        #expect(StatusCode(rawValue: refused.aux) == .unavailable)
        #expect(refused.metadata["not-processed"] == "1")
        peer.close()
        server.shutdown()
        finish(loop)
    }

    @Test func aCallCutByAServerThatStopsMidCallMayHaveRun() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop)
        let ep = try server.listen(on: .unix(path: dir + "/c.sock"))
        let client = makeClient(loop, [ep])
        var result: Result<Alertmesh_V1_EchoResponse, RPCError>?
        client.call(TestService.work, TestService.request("sleep:3000")) { result = $0 }
        run(loop) { server.statsSnapshot().callsInFlight == 1 }
        server.shutdown(graceMs: 50)
        run(loop) { result != nil }
        guard case .failure(let e) = result else {
            Issue.record("expected a failure")
            return
        }
        #expect(e.code == .unavailable)
        #expect(!e.notProcessed, "the handler was running: the outcome is unknown")
        client.close()
        spin(loop, ms: 3_100)
        finish(loop)
    }

    @Test func aDeadlineSaysWhetherTheCallWasEverSent() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        // Accepts connections (the kernel's backlog) but never answers the handshake: the call waits.
        let silent = LoopbackSocket.listenTCP()
        defer { silent.close() }
        let waiting = makeClient(loop, [.tcp(host: "127.0.0.1", port: silent.port)])
        let unsent = try #require(outcome(loop, waiting, "x", timeoutMs: 150))
        #expect(unsent.code == .deadlineExceeded)
        #expect(unsent.notProcessed, "never sent: no server saw it")
        waiting.close()

        let server = makeServer(loop)
        let ep = try server.listen(on: .unix(path: dir + "/d.sock"))
        let client = makeClient(loop, [ep])
        let slow = try #require(outcome(loop, client, "sleep:500", timeoutMs: 100))
        #expect(slow.code == .deadlineExceeded)
        #expect(!slow.notProcessed, "sent and running when the deadline passed")
        client.close()
        server.shutdown()
        spin(loop, ms: 550)
        finish(loop)
    }

    @Test func aPeerSilentPastADeadlineIsProbedAndItsConnectionReset() throws {
        // A server that shakes hands and then says nothing more, PINGs included: a stalled host.
        let loop = try EventLoop()
        var accepted: [StreamConnection] = []
        let listener = try StreamListener(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 0)) { conn in
            accepted.append(conn)
            var answered = false
            conn.onRead = { _ in
                guard !answered else { return }
                answered = true
                conn.write(Preface().bytes + Frame(type: .helloAck, metadata: HelloSettings().metadata).bytes)
            }
            conn.startReading()
        }
        let client = makeClient(loop, [listener.endpoint])
        let started = Date()
        let error = try #require(outcome(loop, client, "x", timeoutMs: 200))
        let elapsed = Date().timeIntervalSince(started)
        // Not a plain timeout: the probe found nobody, and the connection went with an RST.
        #expect(error.code == .unavailable, "\(error)")
        #expect("\(error)".contains("peer silent"), "\(error)")
        // On loopback the peer's kernel took the bytes: the request may have been read.
        #expect(!error.notProcessed)
        #expect(elapsed >= 1.1 && elapsed < 5, "deadline 200 ms + a 1 s probe, took \(elapsed) s")
        // The client connects again.
        run(loop) { accepted.count == 2 }
        client.close()
        for c in accepted { c.close() }
        listener.close()
        finish(loop)
    }
}
