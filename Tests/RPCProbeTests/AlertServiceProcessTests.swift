// AlertServiceProcessTests: the alert-service executable as an operator meets it.

import Foundation
import Testing

@Suite(.serialized) struct AlertServiceProcessTests {
    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "alertmesh-asp-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> ProbeResult {
        let p = Process()
        p.executableURL = builtBinary("alert-service")
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALERTMESH_") }.merging(
            environment
        ) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return ProbeResult(
            status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
            stderr: String(decoding: e, as: UTF8.self))
    }

    @Test func helpListsEveryOptionWithItsDefault() throws {
        let r = try run(["--help"])
        #expect(r.status == 0)
        for option in [
            "--listen", "--data-dir", "--log-level", "--reports-dir", "--rules", "--max-message-bytes",
            "--max-findings", "--shutdown-grace-ms",
        ] {
            #expect(r.stdout.contains(option), "\(option) missing")
        }
        #expect(r.stdout.contains("(default: 1048576)"))
    }

    @Test func badConfigurationStopsStartUpWithOneLine() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "personal_data = pass\nemail_detected = sometimes\n".write(
            toFile: dir + "/rules.conf", atomically: true, encoding: .utf8)
        let cases: [([String], [String: String], String)] = [
            (
                ["--rules", dir + "/rules.conf"], [:],
                "alert-service: --rules: \(dir)/rules.conf: line 2: email_detected takes on or off, got \"sometimes\"\n"
            ),
            (["--rules", dir + "/missing.conf"], [:], "alert-service: --rules: cannot read \(dir)/missing.conf\n"),
            (
                ["--listen", "tcp://127.0.0.1:notaport"], [:],
                "alert-service: --listen: \"tcp://127.0.0.1:notaport\" has a bad port (want 0-65535)\n"
            ),
            (
                [], ["ALERTMESH_MAX_MESSAGE_BYTES": "-5"],
                "alert-service: --max-message-bytes: must be between 1 and 15728640\n"
            ),
        ]
        for (args, env, expected) in cases {
            let r = try run(args + ["--data-dir", dir + "/data"], environment: env)
            #expect(r.status != 0)
            #expect(r.stderr == expected)
        }
    }

    /// Starts alert-service with its state in `dir`/data and waits for its socket; `stop` ends it.
    func startService(_ arguments: [String] = [], in dir: String) throws -> (Process, socket: String) {
        let service = Process()
        service.executableURL = builtBinary("alert-service")
        service.arguments = ["--log-level", "error"] + arguments
        service.environment = ["ALERTMESH_DATA_DIR": dir + "/data"]
        try service.run()
        let socket = dir + "/data/alert-service.sock"
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { usleep(50_000) }
        return (service, socket)
    }

    func stop(_ service: Process) {
        kill(service.processIdentifier, SIGTERM)
        service.waitUntilExit()
    }

    @Test func rpcProbeCallsAnalyzeOnTheRealService() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (service, socket) = try startService(in: dir)
        defer { stop(service) }
        let r = try probe([
            "unix:" + socket, "call", "alertmesh.v1.AlertService/Analyze",
            "-d", #"{"taskId": "p-1", "message": "my secret email is test@mail.com and my card is 1234567890123456"}"#,
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains(#""alerts":["card_number_detected","email_detected","personal_data"]"#))
        #expect(r.stdout.contains(#""report":"p-1.txt""#))
        #expect(FileManager.default.fileExists(atPath: dir + "/data/error_reports/p-1.txt"))
        let health = try probe(["unix:" + socket, "health", "alertmesh.v1.AlertService"])
        #expect(health.stdout == "SERVING\n")
    }

    /// `--busy-poll-us` on a real service and on rpc-probe: calls work, and once they stop the
    /// service goes back to sleeping (its CPU time stays flat while it is idle).
    @Test func aBusyPollingServiceAnswersThenSleepsWhenIdle() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (service, socket) = try startService(["--busy-poll-us", "20000"], in: dir)
        defer { stop(service) }
        let bench = try probe([
            "unix:" + socket, "bench", "_sys.Echo/Echo", "-n", "2000", "-c", "1", "--json", "--busy-poll-us", "50",
        ])
        #expect(bench.status == 0, "\(bench.stderr)")
        #expect(bench.stdout.contains(#""calls": 2000,"#), "\(bench.stdout)")
        /// utime + stime of the service, in clock ticks.
        func ticks() throws -> Int {
            let stat = try String(contentsOfFile: "/proc/\(service.processIdentifier)/stat", encoding: .utf8)
            let fields = stat[stat.lastIndex(of: ")")!...].split(separator: " ")
            return Int(fields[12])! + Int(fields[13])!
        }
        usleep(100_000)  // past the 20 ms window
        let before = try ticks()
        usleep(1_000_000)
        // A loop still polling would use about a second (100 ticks); a sleeping one next to none.
        #expect(try ticks() - before < 20, "an idle busy-polling service kept using CPU")
    }
}
