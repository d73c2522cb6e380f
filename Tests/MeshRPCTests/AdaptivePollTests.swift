// AdaptivePollTests: a client's loop spins for a reply only while one is awaited that lately came
// within the limit — not for the first, not for slow ones, not once nothing is awaited; a server's
// loop spins for a caller's next request only if such requests lately followed its answers fast.

import Foundation
import MeshLoop
import MeshWire
import Testing

@testable import MeshRPC

@Suite struct AdaptivePollTests {
    /// Calls `text` and runs the loop until the answer; returns whether the loop was spinning for
    /// it right after the call was sent.
    func call(_ client: RPCClient, _ loop: EventLoop, _ text: String) -> Bool {
        var done = false
        client.call(TestService.work, TestService.request(text)) { _ in done = true }
        let spinning = loop.isBusyPolling
        run(loop) { done }
        return spinning
    }

    @Test(arguments: ["unix", "tcp"])
    func theClientSpinsOnlyForRepliesThatLatelyCameFast(transport: String) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        try loop.adaptivePoll(microseconds: 20_000)
        let server = makeServer(loop)
        let ep = try server.listen(
            on: transport == "unix" ? .unix(path: dir + "/s.sock") : .tcp(host: "127.0.0.1", port: 0))
        let client = makeClient(loop, [ep])
        // The first reply on a connection has nothing to go by: no spin.
        #expect(!call(client, loop, "first"))
        #expect(!loop.isBusyPolling, "nothing is awaited, yet the loop polls")
        // Replies came fast (same loop): the next one is spun for, and the spin ends with it.
        #expect(call(client, loop, "second"))
        #expect(!loop.isBusyPolling, "nothing is awaited, yet the loop polls")
        // Replies turn slow (60 ms, beyond the 20 ms limit): a few are still spun for (the
        // average moves an eighth of the way each time), then the client sleeps through them.
        let spun = (0..<8).map { _ in call(client, loop, "sleep:60") }
        #expect(spun.first == true && spun.last == false, "spun for slow replies: \(spun)")
        #expect(spun.firstIndex(of: false).map { spun[$0...].allSatisfy { !$0 } } == true)
        client.close()
        server.shutdown()
        finish(loop)
    }

    @Test func aLoopWithoutTheLimitNeverSpins() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        let server = makeServer(loop)
        let client = makeClient(loop, [try server.listen(on: .unix(path: dir + "/s.sock"))])
        #expect((0..<3).map { _ in call(client, loop, "fast") } == [false, false, false])
        client.close()
        server.shutdown()
        finish(loop)
    }

    @Test func theServerSpinsOnlyForRequestsThatLatelyFollowedItsAnswersFast() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loop = try EventLoop()
        try loop.adaptivePoll(microseconds: 20_000)
        let server = makeServer(loop)
        // A hand-driven caller: it never spins itself, so what the loop does is the server's.
        let peer = RawPeer(loop: loop, endpoint: try server.listen(on: .unix(path: dir + "/s.sock")))
        peer.handshake()
        run(loop) { peer.ready }
        let payload: [UInt8] = try TestService.request("x").serializedBytes()
        var nextID: UInt32 = 1
        /// Sends `count` requests in one write after `pauseMs`; returns whether the server's loop
        /// spins once they are answered.
        func exchange(pauseMs: UInt64 = 0, count: Int = 1) -> Bool {
            if pauseMs > 0 { spin(loop, ms: pauseMs) }
            let before = peer.frames.count
            var bytes: [UInt8] = []
            for _ in 0..<count {
                bytes +=
                    Frame(
                        type: .request, requestID: nextID, methodID: TestService.work.descriptor.id.rawValue,
                        payload: payload
                    ).bytes
                nextID += 2
            }
            peer.send(bytes: bytes)
            run(loop) { peer.frames.count == before + count }
            return loop.isBusyPolling
        }
        // Nothing to go by after the first answer; requests in one write are not an exchange.
        #expect(!exchange(count: 3))
        #expect(!loop.isBusyPolling)
        // The next request came right after the answer: the server now spins for the one after.
        #expect(exchange())
        // The spin ends when a request comes (and is armed again after its answer) …
        #expect(exchange())
        // … and pauses of 60 ms, beyond the 20 ms limit, soon stop it.
        let spun = (0..<8).map { _ in exchange(pauseMs: 60) }
        #expect(spun.last == false, "spun for slow requests: \(spun)")
        #expect(spun.firstIndex(of: false).map { spun[$0...].allSatisfy { !$0 } } == true)
        peer.close()
        server.shutdown()
        finish(loop)
    }
}
