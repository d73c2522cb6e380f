// SecurityTests: Redis with the shipped ACL (a least-privilege user, the default user off) and
// the public API's hardening — headers, 415, API keys, /metrics on a listener of its own.

import Foundation
import MeshTestSupport
import Testing

@Suite(.serialized) struct SecurityTests {
    @Test func theShippedACLRunsTheWholePipelineAndNothingMore() throws {
        let mesh = try MeshProcesses(acl: true)
        defer { mesh.stop() }
        // Analyze refuses messages over 64 bytes: those tasks fail for good (dead letters).
        try mesh.startAlertService(["--max-message-bytes", "64"])
        try mesh.startScrapedMesh(worker: ["--max-attempts", "2", "--retry-base-ms", "50"], api: ["--monitor-admin"])
        var ids: [String] = []
        for i in 0..<20 { ids += [try #require(mesh.submit("task \(i): password=hunter\(i) mail a\(i)@b.io"))] }
        let long = try #require(mesh.submit(String(repeating: "too long for the alert-service ", count: 8)))
        try mesh.waitFor("every task done") {
            ids.allSatisfy { mesh.state($0) == "SUCCESS" } && mesh.state(long) == "FAILURE"
        }
        // Every reading the API makes: the queue's figures, the monitor, the dead letters.
        #expect(mesh.requestText("GET", "/metrics").contains("alertmesh_queue_length "))
        #expect(mesh.request("GET", "/monitor/api/overview").status == 200)
        // Through the worker's RPC (api-service reaches it through --scrape, connecting at start).
        try mesh.waitFor("the dead letters") { mesh.request("GET", "/monitor/api/dead-letters").status == 200 }
        #expect(mesh.request("POST", "/monitor/api/dead-letters/redrive", body: #"{"all": true}"#).status == 200)
        usleep(1_500_000)
        // Any refused command would have stopped a service (exit 78) with -NOPERM in its log.
        #expect(!mesh.logs().contains("NOPERM"), "a command the ACL refuses")
        #expect(mesh.workers.allSatisfy(\.isRunning) && mesh.api?.isRunning == true)
        // What the user cannot do: keys outside the prefix, administration.
        #expect(mesh.redisCLI(["SET", "other:key", "1"]).hasPrefix("NOPERM"))
        #expect(mesh.redisCLI(["FLUSHALL"]).hasPrefix("NOPERM"))
        #expect(mesh.redisCLI(["CONFIG", "GET", "dir"]).hasPrefix("NOPERM"))
        #expect(runProcess("/usr/bin/redis-cli", ["-s", mesh.redis.socketPath, "PING"]).stdout.hasPrefix("NOAUTH"))
    }

    @Test func underTheShippedACLAKilledRedisKeepsEveryWriteItAcknowledged() throws {
        // Redis replays its AOF as the default user and re-checks each MULTI/EXEC (the effects
        // of a script) against that user's ACL: with the default user stripped of commands, a
        // restart silently dropped every task state the scripts had written.
        let mesh = try MeshProcesses(acl: true)
        defer { mesh.stop() }
        try mesh.startAlertService()
        try mesh.startWorker()
        try mesh.startAPI(["--redis-timeout-ms", "1000"])
        var ids: [String] = []
        for i in 0..<30 { ids += [try #require(mesh.submit("before \(i): password=hunter\(i)"))] }
        try mesh.waitFor("every task done") { ids.allSatisfy { mesh.state($0) == "SUCCESS" } }

        try mesh.redis.restart()  // SIGKILL, then the same server on its AOF
        try mesh.waitFor("api-service ready again") { mesh.request("GET", "/readyz").status == 200 }
        let lost = ids.filter { mesh.state($0) != "SUCCESS" }
        #expect(lost.isEmpty, "\(lost.count) of \(ids.count) tasks lost their state: \(lost.prefix(3))")
        #expect(mesh.redisCLI(["HGET", "{alertmesh}:counters", "succeeded"]) == "30")
        let refused = redisCLI(
            ["-s", mesh.redis.socketPath], user: "admin", passwordFile: mesh.dir + "/acl/admin-password",
            ["ACL", "LOG"]
        ).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(refused.isEmpty, "the AOF replay was refused: \(refused.prefix(300))")
        // The default user still lets no one in.
        #expect(runProcess("/usr/bin/redis-cli", ["-s", mesh.redis.socketPath, "PING"]).stdout.hasPrefix("NOAUTH"))
        #expect(
            runProcess("/usr/bin/redis-cli", ["-s", mesh.redis.socketPath, "AUTH", "default", ""]).stdout
                .hasPrefix("WRONGPASS"))
        let after = try #require(mesh.submit("after: password=hunter2"))
        try mesh.waitFor("a task after the restart") { mesh.state(after) == "SUCCESS" }
    }

    @Test func refusedCredentialsAndMissingPermissionsStopAServiceWithOneLine() throws {
        let mesh = try MeshProcesses(acl: true)
        defer { mesh.stop() }
        let wrong = mesh.dir + "/wrong-password"
        try "not-the-password\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        let api = builtBinary("api-service").path
        let common = ["--http", "127.0.0.1:0", "--data-dir", mesh.dir]
        for (arguments, expected) in [
            (
                ["--redis", "unix://alertmesh@" + mesh.redis.socketPath, "--redis-password-file", wrong],
                "api-service: --redis-password-file: unix:\(mesh.redis.socketPath) refused the credentials of user alertmesh: WRONGPASS"
            ),
            (["--redis", "unix:" + mesh.redis.socketPath], "api-service: --redis: redis refused a command: -NOAUTH"),
            (
                ["--redis", "unix://alertmesh@" + mesh.redis.socketPath],
                "api-service: --redis-password-file: user alertmesh needs a password"
            ),
        ] {
            let r = runProcess("/usr/bin/timeout", ["20", api] + common + arguments)
            #expect(
                r.status == 78 || (r.status == 64 && expected.contains("needs a password")), "\(arguments): \(r.status)"
            )
            #expect(r.stderr.hasPrefix(expected) && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
        // An ACL that lacks a command alertmesh runs (ZCARD, for the queue's figures): the
        // api-service stops at its first reading with the refusal, instead of retrying forever.
        let acl = mesh.dir + "/acl/users.acl"
        try (try String(contentsOfFile: acl, encoding: .utf8)).replacingOccurrences(of: " +zcard", with: "")
            .write(toFile: acl, atomically: true, encoding: .utf8)
        try mesh.redis.restart()
        let r = runProcess(
            "/usr/bin/timeout",
            ["20", api] + common + [
                "--redis", "unix://alertmesh@" + mesh.redis.socketPath, "--redis-password-file",
                mesh.dir + "/acl/redis-password",
            ])
        #expect(r.status == 78, "\(r.stderr)")
        #expect(r.stderr.contains("-NOPERM this user has no permissions to run the 'zcard' command"), "\(r.stderr)")
    }

    @Test func thePublicAPIIsHardened() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        let keys = mesh.dir + "/api-keys"
        let key = String(repeating: "k3y", count: 8)
        try "# clients\n\(key)\n".write(toFile: keys, atomically: true, encoding: .utf8)
        let metricsPort = LoopbackSocket.listenTCP()
        let port = metricsPort.port
        metricsPort.close()
        try mesh.startAlertService()
        try mesh.startWorker()
        try mesh.startAPI(["--api-keys-file", keys, "--metrics-listen", "127.0.0.1:\(port)"])
        let body = #"{"message": "hi"}"#
        // API keys: none → 401 with a challenge; a wrong one → 401; the right one → 202.
        let none = mesh.request("POST", "/submit", body: body)
        #expect(none.status == 401 && none.headers["www-authenticate"] == #"Bearer realm="alertmesh""#)
        let bad = mesh.request(
            "POST", "/submit", body: body, headers: ["Authorization: Bearer " + key.dropLast() + "x"])
        #expect(bad.status == 401 && bad.headers["www-authenticate"]?.contains("invalid_token") == true)
        let ok = mesh.request("POST", "/submit", body: body, headers: ["Authorization: Bearer " + key])
        #expect(ok.status == 202)
        let id = try #require(ok.json["task_id"] as? String)
        #expect(mesh.request("GET", "/status/\(id)").status == 401)
        #expect(mesh.request("GET", "/status/\(id)", headers: ["Authorization: bearer " + key]).status == 200)
        // 415 without Content-Type: application/json (a cross-site form post cannot submit).
        let c = BlockingClient(port: mesh.httpPort, receiveTimeoutSeconds: 5)
        c.send(
            "POST /submit HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer \(key)\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
                + body)
        #expect(c.receiveResponses(1).responses.first?.hasPrefix("HTTP/1.1 415 ") == true)
        c.close()
        // Every answer: nosniff. Pages: a CSP without 'unsafe-inline', never framed.
        for path in ["/healthz", "/docs", "/docs/docs.js", "/monitor", "/nope"] {
            #expect(mesh.request("GET", path).headers["x-content-type-options"] == "nosniff", "\(path)")
        }
        let csp = try #require(mesh.request("GET", "/docs").headers["content-security-policy"])
        #expect(!csp.contains("unsafe-inline") && csp.contains("frame-ancestors 'none'"), "\(csp)")
        #expect(!mesh.requestText("GET", "/docs").contains("<script>"), "inline script in /docs")
        // /metrics moved to its own listener.
        #expect(mesh.request("GET", "/metrics").status == 404)
        let metrics = BlockingClient(port: port, receiveTimeoutSeconds: 5)
        metrics.send("GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        #expect(metrics.receiveResponses(1).responses.first?.contains("alertmesh_") == true)
        metrics.close()
    }
}
