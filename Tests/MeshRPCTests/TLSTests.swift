// TLSTests: mutual TLS on TCP RPC with real certificates (scripts/make-certs) — who gets in, who
// is refused in the handshake, what a refused call looks like, and garbage on either side of TLS.

import Foundation
import MeshLoop
import MeshProto
import MeshTLS
import MeshTestSupport
import MeshWire
import Testing

@testable import MeshRPC

@Suite final class TLSTests {
    /// One CA and its roles, plus a second CA the mesh does not trust; made for each test (EC
    /// keys take milliseconds) and removed after it.
    let dir = makeTempDir()
    let mesh: TestCertificates
    let stranger: TestCertificates

    init() throws {
        mesh = try TestCertificates.make(in: dir + "/mesh", roles: ["alert-service", "worker", "operator"])
        stranger = try TestCertificates.make(in: dir + "/stranger", roles: ["worker"])
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    func context(_ files: TestCertificates.Files) -> TLSContext {
        try! TLSContext(files: .init(certificate: files.cert, key: files.key, ca: files.ca))
    }

    /// A TLS server where only `worker` may call test.Work/Do.
    func makeTLSServer(_ loop: EventLoop, handshakeMs: UInt64 = 10_000) -> (RPCServer, Endpoint) {
        let server = makeServer(loop) {
            $0.tls = self.context(self.mesh.files("alert-service"))
            $0.accessPolicy = AccessPolicy(rules: [TestService.work.descriptor.fullName: ["worker"]])
            $0.timeouts.handshakeMs = handshakeMs
        }
        let ep = try! server.listen(on: .tcp(host: "127.0.0.1", port: 0))
        return (server, ep)
    }

    func call(_ loop: EventLoop, _ client: RPCClient) -> Result<Alertmesh_V1_EchoResponse, RPCError> {
        var result: Result<Alertmesh_V1_EchoResponse, RPCError>?
        client.call(TestService.work, TestService.request("hi"), timeoutMs: 5_000) { result = $0 }
        run(loop) { result != nil }
        return result!
    }

    /// The error `client`'s call ends with; nil if it went through.
    func refusal(_ loop: EventLoop, _ client: RPCClient) -> RPCError? {
        if case .failure(let error) = call(loop, client) { return error }
        return nil
    }

    func calls(_ server: RPCServer, status: StatusCode) -> UInt64 {
        server.statsSnapshot().methods.first { $0.method == TestService.work.descriptor.fullName }?
            .byStatus[status.name] ?? 0
    }

    @Test func aWorkerCallsAndAnOperatorIsDeniedWithItsIdentityNamed() throws {
        let loop = try EventLoop()
        let (server, ep) = makeTLSServer(loop)
        var events: [ClientEvent] = []
        let worker = makeClient(loop, [ep]) {
            $0.tls = self.context(self.mesh.files("worker"))
            $0.expectedPeers = ["alert-service"]
        }
        worker.onEvent = { events.append($1) }
        #expect((try? call(loop, worker).get())?.payload == Data("hi".utf8))
        let secured = events.compactMap { e -> String? in
            if case .secured(let identity, let parameters, _) = e { return "\(identity ?? "-") \(parameters)" }
            return nil
        }
        #expect(secured.count == 1)
        #expect(secured.first?.hasPrefix("alert-service TLSv1.3 ") == true)

        let operatorClient = makeClient(loop, [ep]) { $0.tls = self.context(self.mesh.files("operator")) }
        let error = try #require(refusal(loop, operatorClient), "the operator's call went through")
        #expect(error.code == .permissionDenied)
        #expect(error.notProcessed)
        #expect(error.message.contains("identity operator may not call test.Work/Do"))
        #expect(calls(server, status: .permissionDenied) == 1)
        #expect(calls(server, status: .ok) == 1)
        // _sys.* stays open to any peer the CA vouched for.
        var health: Result<Alertmesh_V1_HealthCheckResponse, RPCError>?
        operatorClient.call(SystemServices.health, Alertmesh_V1_HealthCheckRequest()) { health = $0 }
        run(loop) { health != nil }
        #expect((try? health?.get()) != nil)
        worker.close()
        operatorClient.close()
        server.shutdown()
        finish(loop)
    }

    @Test func aClientRefusesAServerWithTheWrongIdentity() throws {
        let loop = try EventLoop()
        let (server, ep) = makeTLSServer(loop)
        let client = makeClient(loop, [ep]) {
            $0.tls = self.context(self.mesh.files("worker"))
            $0.expectedPeers = ["api-service"]
            $0.reconnectBackoff = Backoff(initialMs: 5_000, maxMs: 5_000)
        }
        let error = try #require(refusal(loop, client), "called a server that is not who the client expects")
        #expect(error.message.contains("names alertmesh://alert-service, not alertmesh://api-service"))
        #expect(calls(server, status: .ok) == 0)
        client.close()
        server.shutdown()
        finish(loop)
    }

    @Test func aCertificateFromAnotherCAIsRefusedInTheHandshake() throws {
        let loop = try EventLoop()
        let (server, ep) = makeTLSServer(loop)
        let stranger = makeClient(loop, [ep]) {
            $0.tls = self.context(self.stranger.files("worker"))
            $0.reconnectBackoff = Backoff(initialMs: 5_000, maxMs: 5_000)
        }
        let error = try #require(refusal(loop, stranger), "a stranger's certificate got in")
        #expect(error.code == .unavailable)
        #expect(error.message.contains("TLS"), "\(error.message)")
        run(loop) { server.statsSnapshot().protocolErrors == 1 }
        #expect(calls(server, status: .ok) == 0)
        stranger.close()
        try expectStillServing(loop, ep)
        server.shutdown()
        finish(loop)
    }

    /// `openssl s_client` as the peer our own TLSContext cannot be: none, or an expired one.
    @Test(arguments: ["no certificate", "expired certificate"])
    func aPeerWithoutAValidCertificateIsRefusedInTheHandshake(kind: String) throws {
        let loop = try EventLoop()
        let (server, ep) = makeTLSServer(loop)
        guard case .tcp(_, let port) = ep else { return }
        var arguments = [
            "s_client", "-connect", "127.0.0.1:\(port)", "-tls1_3", "-CAfile", mesh.files("worker").ca, "-quiet",
        ]
        if kind == "expired certificate" {
            let expired = try mesh.makeExpired(role: "worker")
            arguments += ["-cert", expired.cert, "-key", expired.key]
        }
        let client = try startProcess("/usr/bin/openssl", arguments, stdin: Preface().bytes + Frame(type: .hello).bytes)
        defer { if client.isRunning { client.terminate() } }
        run(loop) { server.statsSnapshot().protocolErrors == 1 }
        // The loop sleeps while nothing happens on it: look at the process every 20 ms.
        for _ in 0..<500 where client.isRunning { spin(loop, ms: 20) }
        #expect(!client.isRunning, "openssl s_client still connected")
        #expect(calls(server, status: .ok) == 0)
        #expect(server.statsSnapshot().connectionsOpen == 0)
        try expectStillServing(loop, ep)
        server.shutdown()
        finish(loop)
    }

    @Test func plaintextBytesToATLSPortAreRefusedPromptly() throws {
        let loop = try EventLoop()
        let (server, ep) = makeTLSServer(loop)
        let peer = RawPeer(loop: loop, endpoint: ep)
        peer.handshake()
        run(loop, seconds: 3) { peer.closed }
        #expect(peer.frames.isEmpty)
        #expect(server.statsSnapshot().protocolErrors == 1)
        // And random bytes that look like nothing at all.
        let noise = RawPeer(loop: loop, endpoint: ep)
        noise.send(bytes: (0..<4096).map { _ in UInt8.random(in: 0...255) })
        run(loop, seconds: 3) { noise.closed }
        try expectStillServing(loop, ep)
        server.shutdown()
        finish(loop)
    }

    @Test func aTLSClientToAPlaintextPortIsToldSo() throws {
        let loop = try EventLoop()
        let server = makeServer(loop)
        let ep = try server.listen(on: .tcp(host: "127.0.0.1", port: 0))
        let client = makeClient(loop, [ep]) {
            $0.tls = self.context(self.mesh.files("worker"))
            $0.reconnectBackoff = Backoff(initialMs: 5_000, maxMs: 5_000)
        }
        let error = try #require(refusal(loop, client), "a TLS client talked to a plaintext server")
        #expect(error.message.contains("does not speak TLS"), "\(error.message)")
        run(loop) { server.statsSnapshot().protocolErrors == 1 }
        client.close()
        server.shutdown()
        finish(loop)
    }

    @Test func garbageInsideTLSAndSilenceAfterConnectingAreCutOff() throws {
        let loop = try EventLoop()
        let (server, ep) = makeTLSServer(loop, handshakeMs: 300)
        let ctx = context(mesh.files("worker"))
        // A valid certificate, then bytes that are not our protocol: GOAWAY inside TLS, then closed.
        let garbage = RawPeer(loop: loop, endpoint: ep, tls: ctx.makeSession(server: false))
        garbage.send(bytes: Array("GARBAGE after the handshake \u{0}\u{1}\u{2}".utf8))
        run(loop, seconds: 3) { garbage.closed }
        #expect(
            garbage.goawayReason?.contains("not an alertmesh peer") == true,
            "\(String(describing: garbage.goawayReason))")
        // A peer that connects and never says a word: cut at the handshake time limit.
        let silent = RawPeer(loop: loop, endpoint: ep)
        run(loop, seconds: 3) { silent.closed }
        #expect(server.statsSnapshot().protocolErrors == 2)
        try expectStillServing(loop, ep)
        server.shutdown()
        finish(loop)
    }

    /// A worker's call still goes through: whatever came before did the server no harm.
    func expectStillServing(_ loop: EventLoop, _ ep: Endpoint, sourceLocation: SourceLocation = #_sourceLocation) throws
    {
        let worker = makeClient(loop, [ep]) { $0.tls = self.context(self.mesh.files("worker")) }
        #expect((try? call(loop, worker).get()) != nil, sourceLocation: sourceLocation)
        worker.close()
    }
}
