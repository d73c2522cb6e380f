// RedisClientTests: reconnecting, deadlines and scripts against a real redis-server (and a mute peer).

import MeshLoop
import MeshRedis
import MeshTestSupport
import Testing

@Suite(.serialized) struct RedisClientTests {
    @Test func aServerThatNeverAnswersCostsADeadlineNotAHang() throws {
        // A listening socket nobody reads from: the connect succeeds, no reply ever comes.
        let mute = LoopbackSocket.listenTCP(backlog: 8)
        defer { mute.close() }
        let loop = try EventLoop()
        var config = RedisClient.Configuration()
        config.commandTimeoutMs = 200
        let client = RedisClient(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: mute.port), configuration: config)
        client.start()
        #expect(runLoop(loop, seconds: 10, until: { client.isConnected }))
        let started = loop.nowMs
        var result: Result<RedisValue, RedisError>?
        client.send(["PING"]) { result = $0 }
        #expect(runLoop(loop, seconds: 10, until: { result != nil }))
        let waited = loop.nowMs - started
        guard case .failure(let error)? = result else { Issue.record("got \(String(describing: result))"); return }
        #expect(waited >= 200 && waited < 2_000, "waited \(waited) ms")
        #expect(client.stats.timeouts == 1)
        #expect("\(error)".contains("127.0.0.1:\(mute.port)"))
        client.close()
        loop.runUntilHandlesClosed(maxTurns: 20)
        #expect(throws: Never.self) { try loop.close() }
    }

    @Test func commandsFailFastWhileDisconnectedAndTheClientComesBack() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let loop = try EventLoop()
        var config = RedisClient.Configuration()
        config.reconnectMaxMs = 200
        let client = RedisClient(loop: loop, endpoint: .unix(path: server.socketPath), configuration: config)
        let script = RedisScript(name: "add", source: "return tonumber(ARGV[1]) + 1")
        client.register(script)
        var connects = 0
        client.onConnect = { connects += 1 }
        client.start()
        #expect(runLoop(loop, until: { client.isConnected }))
        var reply: Result<RedisValue, RedisError>?
        client.eval(script, keys: [], arguments: [Array("41".utf8)]) { reply = $0 }
        #expect(runLoop(loop, until: { reply != nil }))
        #expect(try reply?.get() == .integer(42))
        server.kill()
        #expect(runLoop(loop, until: { !client.isConnected }))
        reply = nil
        client.send(["PING"]) { reply = $0 }
        guard case .failure? = reply else { Issue.record("a command while disconnected must fail at once"); return }
        try server.restart()
        #expect(runLoop(loop, until: { client.isConnected }))
        // The restarted server has an empty script cache: the client loaded it again (or falls back to EVAL).
        reply = nil
        client.eval(script, keys: [], arguments: [Array("1".utf8)]) { reply = $0 }
        #expect(runLoop(loop, until: { reply != nil }))
        #expect(try reply?.get() == .integer(2))
        #expect(connects == 2)
        client.close()
        loop.runUntilHandlesClosed(maxTurns: 20)
        #expect(throws: Never.self) { try loop.close() }
    }
}
