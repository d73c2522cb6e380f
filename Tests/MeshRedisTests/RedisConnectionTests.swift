// RedisConnectionTests: hiredis on our loop against a real redis-server.

import Foundation
import MeshLoop
import MeshRedis
import MeshTestSupport
import Testing

@Suite(.serialized) struct RedisConnectionTests {
    func connect(_ loop: EventLoop, _ endpoint: RedisEndpoint) -> (RedisConnection, Result<Void, RedisError>) {
        let redis = RedisConnection(loop: loop, endpoint: endpoint)
        var result: Result<Void, RedisError>?
        redis.connect { result = $0 }
        loop.run(until: { result != nil })
        return (redis, result!)
    }

    func send(_ loop: EventLoop, _ redis: RedisConnection, _ args: [String]) -> Result<RedisValue, RedisError> {
        var result: Result<RedisValue, RedisError>?
        redis.send(args) { result = $0 }
        loop.run(until: { result != nil })
        return result!
    }

    func finish(_ loop: EventLoop) {
        loop.runUntilHandlesClosed(maxTurns: 20)
        #expect(throws: Never.self) { try loop.close() }
    }

    @Test(arguments: ["unix", "tcp"])
    func commandsAndEveryReplyType(transport: String) throws {
        let server = try RedisServer()
        defer { server.stop() }
        let loop = try EventLoop()
        let endpoint: RedisEndpoint =
            transport == "unix" ? .unix(path: server.socketPath) : .tcp(host: "127.0.0.1", port: server.port)
        let (redis, connected) = connect(loop, endpoint)
        #expect((try? connected.get()) != nil)
        #expect(try send(loop, redis, ["PING"]).get() == .status("PONG"))
        #expect(try send(loop, redis, ["SET", "k", "v\u{0}binary"]).get() == .status("OK"))
        #expect(try send(loop, redis, ["GET", "k"]).get() == .bulk(Array("v\u{0}binary".utf8)))
        #expect(try send(loop, redis, ["GET", "missing"]).get() == .bulk(nil))
        #expect(try send(loop, redis, ["INCRBY", "n", "41"]).get() == .integer(41))
        #expect(try send(loop, redis, ["RPUSH", "l", "a", "b"]).get() == .integer(2))
        #expect(
            try send(loop, redis, ["LRANGE", "l", "0", "-1"]).get()
                == .array([.bulk(Array("a".utf8)), .bulk(Array("b".utf8))]))
        guard case .error(let e) = try send(loop, redis, ["NOSUCHCOMMAND"]).get() else { Issue.record(); return }
        #expect(e.hasPrefix("ERR unknown command"))
        // Pipelined: many commands in flight, replies in order.
        var replies: [Int64] = []
        for _ in 0..<1000 {
            redis.send(["INCR", "c"]) { if case .integer(let v) = try? $0.get() { replies.append(v) } }
        }
        loop.run(until: { replies.count == 1000 })
        #expect(replies == Array(1...1000))
        var closedWith: RedisError?? = .none
        redis.onDisconnect = { closedWith = .some($0) }
        redis.close()
        loop.run(until: { closedWith != nil })
        #expect(closedWith! == nil)
        finish(loop)
    }

    @Test func connectFailureNamesTheEndpoint() throws {
        let loop = try EventLoop()
        let dir = NSTemporaryDirectory() + "alertmesh-noredis-\(UUID().uuidString.prefix(8))"
        let (_, result) = connect(loop, .unix(path: dir + "/none.sock"))
        guard case .failure(let e) = result else { Issue.record("connected to nothing"); return }
        #expect(e.message == "connect unix:\(dir)/none.sock: No such file or directory")
        let free = LoopbackSocket.listenTCP()
        free.close()
        let (_, tcp) = connect(loop, .tcp(host: "127.0.0.1", port: free.port))
        guard case .failure(let t) = tcp else { Issue.record("connected to nothing"); return }
        #expect(t.message.contains("Connection refused"), "\(t.message)")
        finish(loop)
    }

    @Test func aKilledServerFailsPendingCommandsAndReportsTheLoss() throws {
        let server = try RedisServer()
        defer { server.stop() }
        let loop = try EventLoop()
        let (redis, _) = connect(loop, .unix(path: server.socketPath))
        var lost: RedisError??
        redis.onDisconnect = { lost = .some($0) }
        var blocked: Result<RedisValue, RedisError>?
        redis.send(["BLPOP", "nothing", "30"]) { blocked = $0 }
        loop.run(until: { true })
        server.kill()
        loop.run(until: { blocked != nil && lost != nil })
        if case .failure(let e) = blocked {
            #expect(e.message.hasPrefix("no reply"))
        } else {
            Issue.record("expected failure")
        }
        #expect(lost! != nil)
        #expect(!redis.isConnected)
        var after: Result<RedisValue, RedisError>?
        redis.send(["PING"]) { after = $0 }
        if case .failure(let e) = after {
            #expect(e.message.hasPrefix("not connected"))
        } else {
            Issue.record("expected failure")
        }
        finish(loop)
    }
}
