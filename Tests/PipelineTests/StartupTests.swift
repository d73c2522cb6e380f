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
            ("worker", ["--inflight-mib", "0"], [:], "worker: --inflight-mib: "),
            ("worker", ["--max-attempts", "5", "--max-deliveries", "2"], [:], "worker: --max-deliveries: "),
            ("worker", ["--listen", "tcp://127.0.0.1:\(busy.port)", "--insecure-tcp"], [:], "worker: --listen: "),
            ("worker", [], ["ALERTMESH_LEASE_MS": "10"], "worker: --lease-ms: "),
            (
                "worker", ["--dead-letter-ttl", "0"], [:],
                "worker: --result-ttl, --dead-letter-cap, --dead-letter-ttl: "
            ),
            ("worker", ["--dead-letter-ttl", "a week"], [:], "worker: "),
            ("api-service", ["--max-backlog=-1"], [:], "api-service: --max-backlog: "),
            ("alert-service", ["--busy-poll-us", "1000000"], [:], "alert-service: --busy-poll-us: "),
            ("worker", [], ["ALERTMESH_BUSY_POLL_US": "-5"], "worker: --busy-poll-us: "),
            ("api-service", ["--busy-poll-us", "soon"], [:], "api-service: "),
            ("worker", ["--adaptive-poll-us=-1"], [:], "worker: --adaptive-poll-us: "),
            ("api-service", [], ["ALERTMESH_ADAPTIVE_POLL_US": "200000"], "api-service: --adaptive-poll-us: "),
        ]
        for (program, arguments, environment, prefix) in try cases + tlsCases(dir) {
            let r = run(program, arguments + ["--data-dir", dir], environment: environment)
            #expect(r.status != 0, "\(program) \(arguments) started")
            let lines = r.err.split(separator: "\n")
            #expect(lines.count == 1 && r.err.hasPrefix(prefix), "\(program) \(arguments): \(r.err)")
        }
    }

    /// TLS at start-up: TCP without it, half the files, files that are not what they say.
    func tlsCases(_ dir: String) throws -> [(String, [String], [String: String], String)] {
        let certs = try TestCertificates.make(in: dir + "/tls", roles: ["alert-service", "worker"])
        let good = certs.files("alert-service")
        let expired = try certs.makeExpired(role: "alert-service")
        let listen = ["--listen", "tcp://127.0.0.1:0"]
        let garbage = dir + "/tls/garbage.pem"
        try Data("-----BEGIN CERTIFICATE-----\nnot base64 at all\n".utf8).write(to: URL(fileURLWithPath: garbage))
        func with(cert: String = good.cert, key: String = good.key, ca: String = good.ca) -> [String] {
            listen + ["--tls-cert", cert, "--tls-key", key, "--tls-ca", ca]
        }
        return [
            ("alert-service", listen, [:], "alert-service: --listen: tcp://127.0.0.1:0 needs TLS: give --tls-cert"),
            ("worker", ["--alert-endpoint", "tcp://127.0.0.1:7000"], [:], "worker: --alert-endpoint: "),
            ("api-service", ["--scrape", "tcp://127.0.0.1:7000"], [:], "api-service: --scrape: "),
            (
                "alert-service", ["--listen", "tcp://10.1.2.3:7000", "--insecure-tcp"], [:],
                "alert-service: --insecure-tcp: "
            ),
            (
                "alert-service", listen + ["--tls-cert", good.cert], [:],
                "alert-service: --tls-key: needed with --tls-cert"
            ),
            ("worker", [], ["ALERTMESH_TLS_CA": good.ca], "worker: --tls-cert: needed with --tls-ca"),
            ("alert-service", with(cert: garbage), [:], "alert-service: --tls-cert: cannot load"),
            ("alert-service", with(cert: expired.cert, key: expired.key), [:], "alert-service: --tls-cert: "),
            ("alert-service", with(key: certs.files("worker").key), [:], "alert-service: --tls-key: "),
            ("alert-service", with(ca: good.key), [:], "alert-service: --tls-ca: "),
            ("alert-service", with(ca: dir + "/missing.pem"), [:], "alert-service: --tls-ca: "),
        ]
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
