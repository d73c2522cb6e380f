// ProbeTests: rpc-probe run as a real process against a real server (on a thread of this process).

import Foundation
import Logging
import MeshLoop
import MeshProto
import MeshRPC
import MeshTestSupport
import MeshWire
import Synchronization
import Testing

/// A server with the built-ins and a test method, running its own loop on its own thread.
final class ServerThread: @unchecked Sendable {
    let dir: String
    private(set) var unix: Endpoint!
    private(set) var tcp: Endpoint!
    /// Set from the test thread, seen by a timer on the server's loop (no other way in).
    private let stopRequested = Atomic<Bool>(false)
    private var server: RPCServer!
    private let ready = DispatchSemaphore(value: 0)
    private let done = DispatchSemaphore(value: 0)

    static let slow = RPCMethod<Alertmesh_V1_EchoRequest, Alertmesh_V1_EchoResponse>(
        service: "test.Slow", serviceID: 0x0F01, name: "Wait", methodID: 1)

    init() {
        dir = NSTemporaryDirectory() + "alertmesh-probe-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let thread = Thread { [unowned self] in self.main() }
        thread.start()
        ready.wait()
    }

    private func main() {
        let loop = try! EventLoop()
        var logger = Logger(label: "probe-test")
        logger.logLevel = .critical
        server = try! RPCServer(loop: loop, configuration: .init(name: "probe-test-server"), logger: logger)
        server.register(ServerThread.slow) { request, call in
            let t = try! LoopTimer(loop: loop)
            t.start(afterMs: 3_000) {
                t.close()
                call.respond(Alertmesh_V1_EchoResponse())
            }
            _ = request
        }
        unix = try! server.listen(on: .unix(path: dir + "/p.sock"))
        tcp = try! server.listen(on: .tcp(host: "127.0.0.1", port: 0))
        let stopCheck = try! LoopTimer(loop: loop)
        stopCheck.start(afterMs: 10, repeatMs: 10) { [unowned self] in
            guard self.stopRequested.load(ordering: .acquiring) else { return }
            stopCheck.close()
            self.server.shutdown(graceMs: 100)
        }
        ready.signal()
        loop.run()
        try? loop.close()
        done.signal()
    }

    func stop() {
        stopRequested.store(true, ordering: .releasing)
        done.wait()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

struct ProbeResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// An executable of this package, built next to the test bundle.
func builtBinary(_ name: String) -> URL {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if dir.path.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
    let candidate = dir.appendingPathComponent(name)
    if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug/\(name)")
}

/// Runs the rpc-probe binary built next to this test bundle.
func probe(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> ProbeResult {
    let p = Process()
    p.executableURL = builtBinary("rpc-probe")
    p.arguments = arguments
    var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALERTMESH_") }
    env.merge(environment) { $1 }
    p.environment = env
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = input
    try p.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ProbeResult(
        status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
        stderr: String(decoding: e, as: UTF8.self))
}

@Suite(.serialized) struct ProbeTests {
    @Test func listDescribeCallHealthStatsPing() throws {
        let server = ServerThread()
        defer { server.stop() }
        for addr in [
            server.unix.description, server.dir + "/p.sock", "\(server.tcp!)",
            server.tcp.description.replacingOccurrences(of: "tcp://", with: ""),
        ] {
            // Plaintext TCP is for loopback development only, and must be asked for.
            let insecure = addr.hasPrefix("unix:") || addr.hasPrefix("/") ? [] : ["--insecure-tcp"]
            let list = try probe([addr, "list"] + insecure)
            #expect(list.status == 0, "\(addr): \(list.stderr)")
            #expect(
                list.stdout.contains(
                    "_sys.Health/Check  #0001.0001  alertmesh.v1.HealthCheckRequest → alertmesh.v1.HealthCheckResponse")
            )
        }
        let addr = server.unix.description

        let describe = try probe([addr, "describe", "_sys.Echo.Echo"])
        #expect(describe.status == 0)
        #expect(describe.stdout.contains("message alertmesh.v1.EchoRequest {\n  bytes payload = 1;\n}"))
        #expect(describe.stdout.contains(#"{"payload": ""}"#))

        let call = try probe([addr, "call", "_sys.Echo/Echo", "-d", #"{"payload": "aGVsbG8="}"#])
        #expect(call.status == 0, "\(call.stderr)")
        #expect(call.stdout == "{\"payload\":\"aGVsbG8=\"}\n")

        let file = server.dir + "/req.json"
        try #"{"service": ""}"#.write(toFile: file, atomically: true, encoding: .utf8)
        let fromFile = try probe([addr, "call", "Check", "-d", "@" + file])
        #expect(fromFile.stdout == "{\"status\":\"SERVING\"}\n")

        let stream = try probe(
            [addr, "call", "_sys.Health/Check", "-d", "@-"],
            stdin: "{\"service\": \"\"}\n{\"service\": \"nope\"}{}")
        #expect(
            stream.stdout.split(separator: "\n") == [
                "{\"status\":\"SERVING\"}",
                "{\"error\": {\"code\": \"NOT_FOUND\", \"message\": \"unknown service \\\"nope\\\"\"}}",
                "{\"status\":\"SERVING\"}",
            ])
        #expect(stream.status == 64 + 5)

        let health = try probe([addr, "health"])
        #expect(health.status == 0 && health.stdout == "SERVING\n")

        let stats = try probe([addr, "stats"])
        #expect(stats.status == 0)
        #expect(stats.stdout.contains("server probe-test-server"))
        #expect(stats.stdout.contains("_sys.Echo/Echo"))

        let ping = try probe([addr, "ping", "-n", "3"])
        #expect(ping.status == 0, "\(ping.stderr)")
        #expect(ping.stdout.contains("3 pings to \(addr): rtt min/p50/p99/max"))

        let bench = try probe([addr, "bench", "_sys.Echo/Echo", "-n", "2000", "-c", "16", "--json"])
        #expect(bench.status == 0, "\(bench.stderr)")
        #expect(bench.stdout.contains("\"calls\": 2000"))
        #expect(bench.stdout.contains("\"errors\": {}"))
    }

    @Test func errorsAPersonCanActOnWithGrpcurlExitCodes() throws {
        let server = ServerThread()
        defer { server.stop() }
        let addr = server.unix.description

        let unknown = try probe([addr, "call", "Nope", "-d", "{}"])
        #expect(unknown.status == 64 + 12)
        #expect(unknown.stderr.hasPrefix("rpc-probe: unknown method Nope (known: "))
        #expect(unknown.stderr.contains("_sys.Echo/Echo"))

        let deadline = try probe([addr, "call", "test.Slow/Wait", "--timeout", "300ms"])
        #expect(deadline.status == 64 + 4)
        #expect(deadline.stderr == "rpc-probe: DEADLINE_EXCEEDED: deadline exceeded after 300 ms\n")

        let badJSON = try probe([addr, "call", "_sys.Echo/Echo", "-d", "{not json"])
        #expect(badJSON.status == 64 + 3)
        #expect(badJSON.stderr.contains("INVALID_ARGUMENT: cannot decode request as alertmesh.v1.EchoRequest"))

        let refused = try probe(["unix:" + server.dir + "/nobody.sock", "health"])
        #expect(refused.status == 64 + 14)
        #expect(
            refused.stderr.contains("UNAVAILABLE: unix:\(server.dir)/nobody.sock: no such socket file"),
            "\(refused.stderr)")

        let badAddress = try probe(["host:notaport", "list"])
        #expect(badAddress.status == 64)
        #expect(badAddress.stderr.contains("ADDR: \"host:notaport\" has a bad port"))

        let badTimeout = try probe([addr, "list", "--timeout", "soon"])
        #expect(badTimeout.status == 64)
        #expect(badTimeout.stderr.contains("--timeout: \"soon\" is not a duration"))
    }

    @Test func notAnAlertmeshEndpoint() throws {
        // A plain TCP server that answers like an HTTP server.
        let listener = LoopbackSocket.listenTCP()
        let thread = Thread {
            let fd = accept(listener.fd, nil, nil)
            var buf = [UInt8](repeating: 0, count: 256)
            _ = read(fd, &buf, buf.count)
            let answer = Array("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n".utf8)
            _ = write(fd, answer, answer.count)
            usleep(200_000)
            close(fd)
        }
        thread.start()
        defer { close(listener.fd) }
        let r = try probe(["127.0.0.1:\(listener.port)", "health", "--insecure-tcp"])
        #expect(r.status == 64 + 14)
        #expect(r.stderr.contains("not an alertmesh endpoint (got HTTP: HTTP/1.1 400 Bad Request)"), "\(r.stderr)")
    }

    @Test func verboseAndFrameDump() throws {
        let server = ServerThread()
        defer { server.stop() }
        let r = try probe(
            [
                server.unix.description, "call", "_sys.Health/Check", "-v", "--dump-frames", "-H",
                "task-id: ${PROBE_TASK}",
            ],
            environment: ["PROBE_TASK": "t-42"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("* handshake done in"))
        #expect(r.stderr.contains("server \"probe-test-server\""))
        #expect(r.stderr.contains("> PREFACE v1.0\n  0000  89 52 50 4d 01 00 00 00"))
        #expect(r.stderr.contains("> REQUEST id=3 method=#0001.0001"))
        #expect(r.stderr.contains("metadata={task-id: t-42, content-type: application/json}"))
        #expect(r.stderr.contains("< RESPONSE id=3 method=#0001.0001"))
        #expect(r.stderr.contains("* status OK after"))
    }

    @Test func environmentSuppliesOptionsAndFlagsWin() throws {
        let server = ServerThread()
        defer { server.stop() }
        let envTimeout = try probe(
            [server.unix.description, "call", "test.Slow/Wait"], environment: ["ALERTMESH_TIMEOUT": "200ms"])
        #expect(envTimeout.stderr == "rpc-probe: DEADLINE_EXCEEDED: deadline exceeded after 200 ms\n")
        let flagWins = try probe(
            [server.unix.description, "call", "test.Slow/Wait", "--timeout", "100ms"],
            environment: ["ALERTMESH_TIMEOUT": "200ms"])
        #expect(flagWins.stderr == "rpc-probe: DEADLINE_EXCEEDED: deadline exceeded after 100 ms\n")
        let badEnv = try probe([server.unix.description, "list"], environment: ["ALERTMESH_TIMEOUT": "whenever"])
        #expect(badEnv.status == 64)
        #expect(badEnv.stderr.contains("--timeout: \"whenever\" is not a duration"))
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aServerProcessDrainsAndExitsZeroOnSignal(signal: Int32) throws {
        let dir = NSTemporaryDirectory() + "alertmesh-sig-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let socket = dir + "/s.sock"
        let server = Process()
        server.executableURL = builtBinary("bench-server")
        server.arguments = ["--listen", "unix:" + socket, "--log-level", "error"]
        server.standardOutput = FileHandle.nullDevice
        try server.run()
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: socket) { usleep(50_000) }
        #expect(try probe(["unix:" + socket, "health"]).stdout == "SERVING\n")
        kill(server.processIdentifier, signal)
        for _ in 0..<200 where server.isRunning { usleep(50_000) }
        if server.isRunning {
            Issue.record("bench-server ignored signal \(signal) for 10 s")
            kill(server.processIdentifier, SIGKILL)
        }
        server.waitUntilExit()
        #expect(server.terminationReason == .exit)
        #expect(server.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket file must be removed on shutdown")
    }

    @Test func helpListsEveryOptionWithDefaults() throws {
        let r = try probe(["call", "--help"])
        #expect(r.status == 0)
        for option in [
            "--timeout", "--connect-timeout", "--header", "--max-msg", "--verbose", "--dump-frames", "--data",
        ] {
            #expect(r.stdout.contains(option), "\(option) missing from --help")
        }
        #expect(r.stdout.contains("(default: 10s)"))
    }
}
