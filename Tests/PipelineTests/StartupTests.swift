// StartupTests: bad configuration stops a service with one line; start-up order does not matter.

import Foundation
import MeshTestSupport
import Testing

@Suite(.serialized) struct StartupTests {
    func run(_ program: String, _ arguments: [String], environment: [String: String] = [:]) -> (
        status: Int32, err: String
    ) {
        let r = runProcess(builtBinary(program).path, arguments, environment: environment)
        return (r.status, r.stderr)
    }

    @Test func aConfigurationErrorIsOneLineNamingTheOption() throws {
        let dir = NSTemporaryDirectory() + "alertmesh-start-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let busy = LoopbackSocket.listenTCP()
        defer { busy.close() }
        let cases: [(String, [String], [String: String], String)] = [
            ("api-service", ["--http", "127.0.0.1:notaport"], [:], "api-service: --http: "),
            ("api-service", ["--http", "127.0.0.1:\(busy.port)"], [:], "api-service: --http: "),
            ("api-service", ["--redis", "unix:"], [:], "api-service: --redis: "),
            ("api-service", [], ["ALERTMESH_MAX_BODY_BYTES": "0"], "api-service: --max-body-bytes: "),
            ("api-service", ["--influx-udp", "no port"], [:], "api-service: --influx-udp: "),
            ("api-service", ["--scrape", "nowhere"], [:], "api-service: --scrape: "),
            ("worker", ["--alert-endpoint", "nowhere"], [:], "worker: --alert-endpoint: "),
            ("worker", ["--concurrency", "0"], [:], "worker: --concurrency: "),
            ("worker", ["--max-attempts", "5", "--max-deliveries", "2"], [:], "worker: --max-deliveries: "),
            ("worker", ["--listen", "tcp://127.0.0.1:\(busy.port)"], [:], "worker: --listen: "),
            ("worker", [], ["ALERTMESH_LEASE_MS": "10"], "worker: --lease-ms: "),
            (
                "worker", ["--dead-letter-ttl", "0"], [:],
                "worker: --result-ttl, --dead-letter-cap, --dead-letter-ttl: "
            ),
            ("worker", ["--dead-letter-ttl", "a week"], [:], "worker: "),
            ("api-service", ["--max-backlog=-1"], [:], "api-service: --max-backlog: "),
        ]
        for (program, arguments, environment, prefix) in cases {
            let r = run(program, arguments + ["--data-dir", dir], environment: environment)
            #expect(r.status != 0, "\(program) \(arguments) started")
            let lines = r.err.split(separator: "\n")
            #expect(lines.count == 1 && r.err.hasPrefix(prefix), "\(program) \(arguments): \(r.err)")
        }
    }

    @Test func loadgenRefusesBadFlagsNamingThem() {
        for (arguments, option) in [
            (["--poll-rate", "0"], "--poll-rate"), (["--poll-rate", "nan"], "--poll-rate"),
            (["--distinct-messages", "0"], "--distinct-messages"),
        ] {
            let r = run("loadgen", ["--url", "http://127.0.0.1:9", "--tasks", "1"] + arguments)
            #expect(r.status != 0 && r.err.contains(option), "\(arguments): \(r.err)")
        }
    }

    @Test func servicesStartedBeforeRedisBecomeReadyByThemselves() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        mesh.redis.kill()  // its address is known; it is not there yet
        try mesh.startAlertService()
        try mesh.startWorker(["--listen", "unix:" + mesh.dir + "/worker.sock"])
        let probe = LoopbackSocket.listenTCP()
        let port = probe.port
        probe.close()
        let api = Process()
        api.executableURL = builtBinary("api-service")
        api.arguments = [
            "--http", "127.0.0.1:\(port)", "--redis", "127.0.0.1:\(mesh.redis.port)", "--data-dir", mesh.dir,
        ]
        api.standardOutput = FileHandle.nullDevice
        api.standardError = FileHandle.nullDevice
        try api.run()
        defer {
            kill(api.processIdentifier, SIGKILL)
            api.waitUntilExit()
        }
        func ready() -> Int {
            let c = BlockingClient(port: port, receiveTimeoutSeconds: 2)
            defer { c.close() }
            c.send("GET /readyz HTTP/1.1\r\nConnection: close\r\n\r\n")
            return Int(c.receive().text.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        func workerHealth() -> String {
            let p = Process()
            p.executableURL = builtBinary("rpc-probe")
            p.arguments = ["unix:" + mesh.dir + "/worker.sock", "health"]
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try? p.run()
            let d = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try mesh.waitFor("api-service answering") { ready() == 503 }
        try mesh.waitFor("worker NOT_SERVING, saying why") { workerHealth() == "NOT_SERVING: redis unreachable" }
        try mesh.redis.restart()
        try mesh.waitFor("api-service ready by itself") { ready() == 200 }
        try mesh.waitFor("worker SERVING by itself") { workerHealth() == "SERVING" }
    }
}
