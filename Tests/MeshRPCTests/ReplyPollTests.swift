// ReplyPollTests: a client's loop spins for a reply only while one is awaited that lately came
// within the limit — not for the first, not for slow ones, not once nothing is awaited.

import Foundation
import MeshLoop
import Testing

@testable import MeshRPC

@Suite struct ReplyPollTests {
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
        try loop.replyPoll(microseconds: 20_000)
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
        var stopped = false
        server.shutdown { stopped = true }
        run(loop) { stopped }
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
        var stopped = false
        server.shutdown { stopped = true }
        run(loop) { stopped }
        finish(loop)
    }
}
