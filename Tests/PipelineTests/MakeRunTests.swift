// MakeRunTests: `make run`'s script as a user meets it — ready, usable, and gone after SIGTERM or
// a terminal's Ctrl-C.

import Foundation
import MeshTestSupport
import Testing

@Suite(.serialized) struct MakeRunTests {
    enum Stop: String, CustomStringConvertible {
        /// SIGTERM to the script alone (a supervisor, `kill`).
        case sigtermToScript
        /// SIGINT to the script's whole process group: what a terminal's Ctrl-C sends.
        case ctrlC

        var description: String { rawValue }
    }

    /// `scripts/run-mesh` started as `make run` starts it, read until it says "ready".
    final class Run {
        let dir = NSTemporaryDirectory() + "alertmesh-run-\(UUID().uuidString.prefix(8))"
        let port: UInt16
        let script = Process()
        let out = Pipe()
        let err = Pipe()
        var errText = ""

        init(_ settings: [String: String] = [:]) throws {
            let probe = LoopbackSocket.listenTCP()
            port = probe.port
            probe.close()
            script.executableURL = URL(fileURLWithPath: "/bin/bash")
            script.arguments = [repositoryRoot.appendingPathComponent("scripts/run-mesh").path]
            script.currentDirectoryURL = repositoryRoot
            var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALERTMESH_") }
            env["ALERTMESH_BIN_DIR"] = builtBinary("api-service").deletingLastPathComponent().path
            env["RUN_DIR"] = dir
            env["HTTP_PORT"] = String(port)
            env["WORKERS"] = "2"
            env["ALERT_SERVICES"] = "1"
            script.environment = env.merging(settings) { $1 }
            script.standardOutput = out
            script.standardError = err
            // The test runner's threads block some signals and children inherit the mask; bash cannot
            // trap a blocked SIGTERM, so unblock it for the child (as a shell started from a terminal has it).
            var unblock = sigset_t()
            sigemptyset(&unblock)
            for s in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&unblock, s) }
            var saved = sigset_t()
            pthread_sigmask(SIG_UNBLOCK, &unblock, &saved)
            try script.run()
            pthread_sigmask(SIG_SETMASK, &saved, nil)
            // Read stderr until "ready" (health checks inside the script, not sleeps here).
            let deadline = Date().addingTimeInterval(90)
            while !errText.contains("run: ready") && Date() < deadline && script.isRunning {
                let chunk = err.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                errText += String(decoding: chunk, as: UTF8.self)
            }
        }

        var printed: String { String(decoding: out.fileHandleForReading.availableData, as: UTF8.self) }

        /// SIGTERM to the script; what it printed on stderr in all.
        func stop() -> String {
            if script.isRunning { kill(script.processIdentifier, SIGTERM) }
            script.waitUntilExit()
            errText += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return errText
        }

        deinit {
            if script.isRunning { kill(script.processIdentifier, SIGKILL) }
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// Submits the README's example message; the task's state once SUCCESS (or the last seen).
    func submitAndWait(port: UInt16) throws -> String {
        let curl = run(
            "/usr/bin/curl",
            [
                "-s", "localhost:\(port)/submit", "-H", "Content-Type: application/json", "-d",
                #"{"message": "my secret email is test@mail.com and my card is 1234567890123456"}"#,
            ])
        let id = try #require(
            (try? JSONSerialization.jsonObject(with: Data(curl.utf8)) as? [String: Any])?["task_id"] as? String,
            "\(curl)")
        var state = ""
        for _ in 0..<100 where state != "SUCCESS" {
            let status = run("/usr/bin/curl", ["-s", "localhost:\(port)/status/\(id)"])
            state =
                ((try? JSONSerialization.jsonObject(with: Data(status.utf8))) as? [String: Any])?["state"] as? String
                ?? ""
            usleep(100_000)
        }
        return state
    }

    @Test(arguments: [Stop.sigtermToScript, .ctrlC])
    func runStartsTheWholeMeshPrintsWhatToTryAndStopsCleanly(stop: Stop) throws {
        let mesh = try Run()
        let (dir, port, script) = (mesh.dir, mesh.port, mesh.script)
        try #require(mesh.errText.contains("run: ready"), "\(mesh.errText)")
        let printed = mesh.printed
        #expect(printed.contains("http://127.0.0.1:\(port)") && printed.contains("curl -s localhost:\(port)/submit"))

        // The printed curl example, as a user would run it.
        #expect(try submitAndWait(port: port) == "SUCCESS")
        // make run's Redis acknowledges only what is on disk.
        // (Its ACL keeps CONFIG from the services' user: read what the script started.)
        let started = (try? String(contentsOfFile: dir + "/logs/started.log", encoding: .utf8)) ?? ""
        let redisCommand = started.split(separator: "\n").first { $0.contains(" redis: ") } ?? ""
        #expect(redisCommand.contains("--appendfsync always"), "\(started)")
        // …and answers no one who has not authenticated as its ACL user.
        #expect(run("/usr/bin/redis-cli", ["-s", dir + "/redis.sock", "PING"]).hasPrefix("NOAUTH"))
        // The printed TLS example: rpc-probe as the operator, over mutual TLS.
        let tlsLine = try #require(printed.split(separator: "\n").first { $0.contains(" health -v --tls-cert") })
        let tlsWords = tlsLine.split(separator: " ").map(String.init).dropFirst()
        let secured = runProcess(builtBinary("rpc-probe").path, Array(tlsWords))
        #expect(secured.stdout == "SERVING\n", "\(secured.stderr)")
        #expect(secured.stderr.contains("peer identity alertmesh://alert-service"), "\(secured.stderr)")
        // The printed rpc-probe example.
        let analyze = run(
            builtBinary("rpc-probe").path,
            [
                "unix:\(dir)/alert-service-1.sock", "call", "Analyze", "-d",
                #"{"taskId": "t-1", "message": "password: hunter2"}"#,
            ])
        #expect(analyze.contains(#""alerts":["personal_data"]"#))

        switch stop {
        case .sigtermToScript: kill(script.processIdentifier, SIGTERM)
        case .ctrlC:
            // Foundation starts the script as the leader of a process group of its own, as a
            // terminal starts a job: the group is everything a Ctrl-C would reach.
            try #require(getpgid(script.processIdentifier) == script.processIdentifier)
            kill(-script.processIdentifier, SIGINT)
        }
        let errText = mesh.stop()
        #expect(script.terminationStatus == 0, "\(errText)")
        #expect(!errText.contains("unexpectedly"), "every service is stopped by the script, in order: \(errText)")
        // The services are the script's to stop, front to back: none of them may see the Ctrl-C
        // itself (Redis going first would take the queue from workers still finishing tasks).
        let redisLog = (try? String(contentsOfFile: dir + "/logs/redis.log", encoding: .utf8)) ?? ""
        #expect(redisLog.contains("Received SIGTERM") && !redisLog.contains("Received SIGINT"), "\(redisLog)")
        let left = run("/usr/bin/pgrep", ["-f", dir])
        #expect(left.isEmpty, "processes left behind: \(left)")
        #expect(FileManager.default.fileExists(atPath: dir + "/redis/appendonlydir"), "Redis kept its AOF")
    }

    @Test func runWithRedisHAFollowsAFailoverAndKeepsGoing() throws {
        let mesh = try Run(["REDIS_HA": "1", "WORKERS": "1"])
        try #require(mesh.errText.contains("run: ready"), "\(mesh.errText)")
        #expect(mesh.printed.contains("sentinel://alertmesh@127.0.0.1:"))
        #expect(try submitAndWait(port: mesh.port) == "SUCCESS")
        let ports = try String(contentsOfFile: mesh.dir + "/redis-ha/ports", encoding: .utf8).split(separator: " ")
            .compactMap { UInt16($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(ports.count == 5)
        // Every server and Sentinel has the default user off: a stranger gets nothing; the
        // admin (the password make run wrote) gets everything.
        func adminCLI(_ port: UInt16, _ args: [String]) -> String {
            redisCLI(["-p", String(port)], user: "admin", passwordFile: mesh.dir + "/redis/admin-password", args)
        }
        let primaryOf = ["SENTINEL", "get-master-addr-by-name", "alertmesh"]
        for port in ports { #expect(run("/usr/bin/redis-cli", ["-p", String(port), "PING"]).hasPrefix("NOAUTH")) }
        #expect(adminCLI(ports[2], primaryOf).hasSuffix("\(ports[0])\n"))
        // Each server's config is a copy Sentinel may rewrite; the shipped one stays as it is.
        #expect(adminCLI(ports[0], ["CONFIG", "GET", "min-replicas-to-write"]).contains("1"))

        // The primary dies: Sentinel promotes the replica, the script goes on, and the services
        // follow; with no replica left, submits are refused (503) rather than unprotected.
        let primary = run("/usr/bin/pgrep", ["-f", "redis-server 127.0.0.1:\(ports[0])"])
            .split(separator: "\n").compactMap { Int32($0) }
        try #require(primary.count == 1)
        kill(primary[0], SIGKILL)
        var readyz = ""
        for _ in 0..<300 {
            readyz = run("/usr/bin/curl", ["-s", "localhost:\(mesh.port)/readyz"])
            if readyz.contains("0 of the 1 replicas") { break }
            usleep(100_000)
        }
        #expect(readyz.contains("0 of the 1 replicas"), "\(readyz)")
        #expect(adminCLI(ports[2], primaryOf).hasSuffix("\(ports[1])\n"))
        #expect(mesh.script.isRunning)
        // The failover took no command the shipped users lack (ACL LOG: every refusal, and whom).
        for port in ports.dropFirst() {
            let refused = adminCLI(port, ["ACL", "LOG"]).trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(refused.isEmpty, "port \(port): \(refused)")
        }

        let errText = mesh.stop()
        #expect(mesh.script.terminationStatus == 0, "\(errText)")
        #expect(errText.contains("redis-1 exited; the mesh goes on without it"), "\(errText)")
        for port in ports {
            let listening = run("/usr/bin/ss", ["-Hltn", "sport = :\(port)"])
            #expect(listening.isEmpty, "port \(port) still open after the stop")
        }
    }

    @Test(arguments: [
        ("REDIS_APPENDFSYNC", "sometimes", "REDIS_APPENDFSYNC must be always or everysec, got \"sometimes\""),
        ("WORKERS", "0", "WORKERS must be a positive number, got \"0\""),
        ("REDIS_HA", "yes", "REDIS_HA must be 0 or 1, got \"yes\""),
        ("HTTP_PORT", "http", "HTTP_PORT must be a port number, got \"http\""),
    ])
    func aBadSettingIsRefusedWithALineNamingIt(name: String, value: String, message: String) {
        let dir = NSTemporaryDirectory() + "alertmesh-run-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let result = runProcess(
            "/bin/bash", [repositoryRoot.appendingPathComponent("scripts/run-mesh").path],
            environment: ["RUN_DIR": dir, name: value])
        #expect(result.status != 0)
        #expect(result.stderr.contains("run: " + message), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir), "nothing started")
    }

    func run(_ path: String, _ arguments: [String]) -> String { runProcess(path, arguments).stdout }
}
