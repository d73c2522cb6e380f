// SentinelTests: finding and following a primary through real redis-sentinel processes, and
// writes that wait for replicas.

import Foundation
import MeshLoop
import MeshRedis
import MeshTestSupport
import Testing

@Suite struct RedisServiceParsingTests {
    @Test func sentinelAddressesAndPlainOnes() throws {
        #expect(
            try RedisService(parsing: "sentinel://10.0.0.1:26379,h2:26380/alert-mesh_1")
                == .sentinel(
                    masterName: "alert-mesh_1",
                    sentinels: [.tcp(host: "10.0.0.1", port: 26379), .tcp(host: "h2", port: 26380)]))
        #expect(try RedisService(parsing: "127.0.0.1:6379") == .server(.tcp(host: "127.0.0.1", port: 6379)))
        #expect(try RedisService(parsing: "unix:/run/r.sock") == .server(.unix(path: "/run/r.sock")))
        #expect("\(try RedisService(parsing: "SENTINEL://a:1/m"))" == "sentinel://a:1/m")
    }

    @Test(arguments: [
        "sentinel://", "sentinel://a:1", "sentinel://a:1/", "sentinel://a:1,/m", "sentinel://a/m", "sentinel://a:0/m",
        "sentinel://a:1/m m", "sentinel://unix:/x/m", "sentinel://a:99999/m", "nonsense",
    ])
    func garbageIsRefusedWithAReason(_ text: String) {
        #expect(throws: RedisService.ParseError.self) { try RedisService(parsing: text) }
    }
}

@Suite struct RedisRoleTests {
    @Test func roleRepliesAreReadAndNonsenseIsNot() {
        let replica: RedisValue = .array([.bulk(Array("127.0.0.1".utf8)), .bulk(Array("6380".utf8)), .integer(9)])
        #expect(
            RedisRole(.array([.bulk(Array("master".utf8)), .integer(7), .array([replica])])) == .primary(replicas: 1))
        #expect(RedisRole(.array([.bulk(Array("master".utf8)), .integer(0), .array([])])) == .primary(replicas: 0))
        #expect(RedisRole(.array([.bulk(Array("slave".utf8)), .bulk(Array("h".utf8))])) == .other("slave"))
        #expect(RedisRole(.array([.bulk(Array("master".utf8))])) == nil)
        #expect(RedisRole(.error("ERR unknown command")) == nil)
        #expect(RedisRole(.array([])) == nil)
    }
}

@Suite(.serialized) struct SentinelTests {
    func client(_ loop: EventLoop, _ ha: RedisHA, minReplicas: Int = 0) -> RedisClient {
        var config = RedisClient.Configuration()
        config.reconnectMaxMs = 500
        config.commandTimeoutMs = 1_000
        config.connectTimeoutMs = 500
        config.minReplicas = minReplicas
        return RedisClient(loop: loop, service: try! RedisService(parsing: ha.sentinelURL), configuration: config)
    }

    func send(_ loop: EventLoop, _ c: RedisClient, _ args: [String], replicated: Bool = false) -> Result<
        RedisValue, RedisError
    >? {
        var reply: Result<RedisValue, RedisError>?
        c.send(args.map { Array($0.utf8) }, replicated: replicated) { reply = $0 }
        _ = runLoop(loop, seconds: 10, until: { reply != nil })
        return reply
    }

    @Test func findsThePrimaryAndFollowsItAcrossAKill() throws {
        let ha = try RedisHA()
        defer { ha.stop() }
        try ha.waitUntilReady()
        let loop = try EventLoop()
        let c = client(loop, ha)
        c.start()
        #expect(runLoop(loop, until: { c.isConnected }))
        #expect(c.server == .tcp(host: "127.0.0.1", port: ha.servers[0].port))
        #expect(try send(loop, c, ["SET", "k", "before"])?.get() == .status("OK"))

        // The primary dies: Sentinel promotes the replica; the client finds it by itself.
        let killedAt = Date()
        ha.servers[0].kill()
        // Up to 90 s: a Sentinel whose timer ran late on a busy machine enters TILT mode for 30 s.
        #expect(
            runLoop(
                loop, seconds: 90,
                until: { c.isConnected && c.server?.description.hasSuffix(":\(ha.servers[1].port)") == true }))
        print(
            "sentinel failover: the client was back on the new primary \(Int(Date().timeIntervalSince(killedAt) * 1000)) ms after the kill"
        )
        #expect(try send(loop, c, ["GET", "k"])?.get() == .bulk(Array("before".utf8)))
        #expect(try send(loop, c, ["SET", "k", "after"])?.get() == .status("OK"))
        #expect(c.stats.failovers >= 1 || c.stats.disconnects >= 1)
        c.close()
        loop.runUntilHandlesClosed(maxTurns: 20)
        #expect(throws: Never.self) { try loop.close() }
    }

    @Test func aDemotedPrimaryIsLeftAndNoConfirmedWriteIsLost() throws {
        // A planned failover (SENTINEL FAILOVER): the old primary stays up and becomes a replica,
        // so only +switch-master or its -READONLY tells the client to move. Sentinel does not stop
        // writes to the old primary first: a write it took after the promotion is lost — which
        // is why writes wait for a replica, and only confirmed ones count.
        let ha = try RedisHA()
        defer { ha.stop() }
        try ha.waitUntilReady()
        let loop = try EventLoop()
        let c = client(loop, ha, minReplicas: 1)
        c.start()
        #expect(runLoop(loop, until: { c.isConnected }))
        #expect(ha.sentinels[0].cli(["SENTINEL", "FAILOVER", RedisHA.masterName]) == "OK")
        var confirmed: [String] = []
        var refused = 0
        let onNewPrimary = { c.isConnected && c.server?.description.hasSuffix(":\(ha.servers[1].port)") == true }
        let deadline = Date().addingTimeInterval(75)  // TILT mode on a busy machine: 30 s idle
        // Write through the switch until writes are confirmed on the new primary again (its
        // replica, the old primary, resynced).
        var i = 0
        var confirmedAfterSwitch = 0
        while Date() < deadline && confirmedAfterSwitch < 20 {
            i += 1
            let switched = onNewPrimary()
            switch send(loop, c, ["SADD", "s", "m\(i)"], replicated: true) {
            case .success(.integer)?:
                confirmed.append("m\(i)")
                if switched { confirmedAfterSwitch += 1 }
            default: refused += 1
            }
            _ = runLoop(loop, seconds: 0.01, until: { false })
        }
        #expect(onNewPrimary(), "still on \(String(describing: c.server))")
        let members = Set(
            runProcess("/usr/bin/redis-cli", ["-s", ha.servers[1].socketPath, "SMEMBERS", "s"]).stdout.split(
                separator: "\n"
            )
            .map(String.init))
        let lost = confirmed.filter { !members.contains($0) }
        print(
            "planned failover: \(confirmed.count) writes confirmed, \(refused) refused or unconfirmed, \(lost.count) confirmed lost"
        )
        #expect(lost.isEmpty, "confirmed writes lost: \(lost.prefix(5))")
        #expect(refused > 0, "the switch must have refused some writes")
        c.close()
        loop.runUntilHandlesClosed(maxTurns: 20)
        #expect(throws: Never.self) { try loop.close() }
    }

    @Test func aWriteTooFewReplicasConfirmSaysSoAndKeepsItsReply() throws {
        let ha = try RedisHA()
        defer { ha.stop() }
        try ha.waitUntilReady()
        let loop = try EventLoop()
        var config = RedisClient.Configuration()
        config.minReplicas = 1
        config.replicaTimeoutMs = 300
        let c = RedisClient(loop: loop, endpoint: .unix(path: ha.servers[0].socketPath), configuration: config)
        c.start()
        #expect(runLoop(loop, until: { c.isConnected }))
        #expect(try send(loop, c, ["SET", "k", "1"], replicated: true)?.get() == .status("OK"))
        // A frozen replica confirms nothing.
        ha.servers[1].pause()
        guard case .failure(let error)? = send(loop, c, ["SET", "k", "2"], replicated: true) else {
            Issue.record("a write no replica confirmed must not pass")
            ha.servers[1].resume()
            return
        }
        ha.servers[1].resume()
        #expect(error.unreplicated == .status("OK"))
        #expect("\(error)".contains("0 of 1 replicas"))
        #expect(c.stats.unreplicated == 1)
        // An error reply comes back as itself: nothing was written, nothing to wait for.
        #expect(try send(loop, c, ["INCR", "k", "extra"], replicated: true)?.get().isError == true)
        #expect(try send(loop, c, ["SET", "k", "3"], replicated: true)?.get() == .status("OK"))
        c.close()
        loop.runUntilHandlesClosed(maxTurns: 20)
        #expect(throws: Never.self) { try loop.close() }
    }

    @Test func withTheShippedUsersOnlyTheirCredentialsGetIn() throws {
        let acl = NSTemporaryDirectory() + "alertmesh-acl-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: acl) }
        let made = runProcess("/bin/bash", [repositoryRoot.appendingPathComponent("scripts/make-redis-acl").path, acl])
        try #require(made.status == 0, "\(made.stderr)")
        let ha = try RedisHA(acl: acl)
        defer { ha.stop() }
        try ha.waitUntilReady()
        let password = try String(contentsOfFile: acl + "/redis-password", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        func redisCLI(_ target: [String], as user: String?, _ args: [String]) -> String {
            MeshTestSupport.redisCLI(target, user: user, passwordFile: acl + "/redis-password", args)
        }
        let sentinel = ["-p", String(ha.sentinels[0].port)]
        // A stranger gets nothing from a server or a Sentinel; alertmesh may ask where the
        // primary is, not move it.
        #expect(redisCLI(["-s", ha.servers[0].socketPath], as: nil, ["PING"]).hasPrefix("NOAUTH"))
        #expect(redisCLI(sentinel, as: nil, ["SENTINEL", "get-master-addr-by-name", "alertmesh"]).hasPrefix("NOAUTH"))
        #expect(
            redisCLI(sentinel, as: "alertmesh", ["SENTINEL", "SET", "alertmesh", "quorum", "1"]).hasPrefix("NOPERM"))
        #expect(redisCLI(sentinel, as: "alertmesh", ["SENTINEL", "FAILOVER", "alertmesh"]).hasPrefix("NOPERM"))

        // The right credentials: the first "Sentinel" listed is a Redis server, which refuses
        // SENTINEL to alertmesh — one refusal is a Sentinel down, not a configuration error.
        let url =
            "sentinel://127.0.0.1:\(ha.servers[0].port)," + ha.sentinelURL.dropFirst("sentinel://alertmesh@".count)
        func client(_ loop: EventLoop, password: String) throws -> RedisClient {
            var config = RedisClient.Configuration()
            config.connectTimeoutMs = 500
            config.reconnectMaxMs = 500
            config.credentials = RedisCredentials(user: "alertmesh", password: password)
            return RedisClient(loop: loop, service: try RedisService(parsing: url), configuration: config)
        }
        let loop = try EventLoop()
        let good = try client(loop, password: password)
        var configurationErrors: [String] = []
        good.onConfigurationError = { configurationErrors.append("\($0)") }
        good.start()
        #expect(runLoop(loop, until: { good.isConnected }))
        #expect(try send(loop, good, ["SET", "{alertmesh}:k", "1"])?.get() == .status("OK"))
        #expect(configurationErrors.isEmpty, "\(configurationErrors)")
        good.close()

        // A wrong password, refused by every Sentinel: a configuration error, said once per try.
        let wrong = try client(loop, password: "not-the-password")
        wrong.onConfigurationError = { configurationErrors.append("\($0)") }
        wrong.start()
        #expect(runLoop(loop, seconds: 10, until: { !configurationErrors.isEmpty }))
        #expect(!wrong.isConnected)
        let why = configurationErrors.first ?? ""
        #expect(why.contains("no Sentinel named the primary alertmesh") && why.contains("WRONGPASS"), "\(why)")
        wrong.close()
        loop.runUntilHandlesClosed(maxTurns: 20)
        #expect(throws: Never.self) { try loop.close() }
        // ACL LOG saw it all: the wrong password and the SENTINEL command asked of a server.
        let denials = ha.aclDenials()
        #expect(denials.contains { $0.contains("alertmesh: auth") }, "\(denials)")
        #expect(denials.contains { $0.contains("alertmesh: command sentinel") }, "\(denials)")
    }

    @Test func noSentinelAnsweringIsAClearErrorNotAHang() throws {
        let mute = LoopbackSocket.listenTCP(backlog: 8)  // accepts, never answers
        defer { mute.close() }
        let closed = LoopbackSocket.listenTCP()
        let closedPort = closed.port
        closed.close()
        let loop = try EventLoop()
        var config = RedisClient.Configuration()
        config.connectTimeoutMs = 200
        let c = RedisClient(
            loop: loop,
            service: try RedisService(parsing: "sentinel://127.0.0.1:\(mute.port),127.0.0.1:\(closedPort)/alertmesh"),
            configuration: config)
        c.start()
        #expect(runLoop(loop, seconds: 5, until: { c.lastError != nil }))
        let why = "\(c.lastError.map { "\($0)" } ?? "")"
        #expect(why.contains("no Sentinel named the primary alertmesh"), "\(why)")
        #expect(why.contains("no answer in 200 ms") && why.contains("\(closedPort)"), "\(why)")
        guard case .failure? = send(loop, c, ["PING"]) else {
            Issue.record("must fail while no primary is known"); return
        }
        c.close()
        loop.runUntilHandlesClosed(maxTurns: 20)
        #expect(throws: Never.self) { try loop.close() }
    }
}
