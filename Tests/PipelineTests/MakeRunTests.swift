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

    @Test(arguments: [Stop.sigtermToScript, .ctrlC])
    func runStartsTheWholeMeshPrintsWhatToTryAndStopsCleanly(stop: Stop) throws {
        let dir = NSTemporaryDirectory() + "alertmesh-run-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let probe = LoopbackSocket.listenTCP()
        let port = probe.port
        probe.close()
        let script = Process()
        script.executableURL = URL(fileURLWithPath: "/bin/bash")
        script.arguments = [repositoryRoot.appendingPathComponent("scripts/run-mesh").path]
        script.currentDirectoryURL = repositoryRoot
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALERTMESH_") }
        env["ALERTMESH_BIN_DIR"] = builtBinary("api-service").deletingLastPathComponent().path
        env["RUN_DIR"] = dir
        env["HTTP_PORT"] = String(port)
        env["WORKERS"] = "2"
        env["ALERT_SERVICES"] = "1"
        script.environment = env
        let out = Pipe()
        let err = Pipe()
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
        defer { if script.isRunning { kill(script.processIdentifier, SIGKILL) } }
        // Read stderr until "ready" (health checks inside the script, not sleeps here).
        var errText = ""
        let deadline = Date().addingTimeInterval(90)
        while !errText.contains("run: ready") && Date() < deadline && script.isRunning {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            errText += String(decoding: chunk, as: UTF8.self)
        }
        try #require(errText.contains("run: ready"), "\(errText)")
        let printed = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        #expect(printed.contains("http://127.0.0.1:\(port)") && printed.contains("curl -s localhost:\(port)/submit"))

        // The printed curl example, as a user would run it.
        let curl = run(
            "/usr/bin/curl",
            [
                "-s", "localhost:\(port)/submit", "-H", "Content-Type: application/json", "-d",
                #"{"message": "my secret email is test@mail.com and my card is 1234567890123456"}"#,
            ])
        let id = try #require(
            (try? JSONSerialization.jsonObject(with: Data(curl.utf8)) as? [String: Any])?["task_id"] as? String)
        var state = ""
        for _ in 0..<100 where state != "SUCCESS" {
            let status = run("/usr/bin/curl", ["-s", "localhost:\(port)/status/\(id)"])
            state =
                ((try? JSONSerialization.jsonObject(with: Data(status.utf8))) as? [String: Any])?["state"] as? String
                ?? ""
            usleep(100_000)
        }
        #expect(state == "SUCCESS")
        // make run's Redis acknowledges only what is on disk.
        let fsync = run("/usr/bin/redis-cli", ["-s", dir + "/redis.sock", "CONFIG", "GET", "appendfsync"])
        #expect(fsync.contains("always"), "\(fsync)")
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
        script.waitUntilExit()
        errText += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
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

    @Test(arguments: [
        ("REDIS_APPENDFSYNC", "sometimes", "REDIS_APPENDFSYNC must be always or everysec, got \"sometimes\""),
        ("WORKERS", "0", "WORKERS must be a positive number, got \"0\""),
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
