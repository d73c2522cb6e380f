// MeshProcesses: the whole pipeline as real processes — redis-server (with the shipped
// redis.conf), alert-service, workers and api-service — in a temp dir, on free ports.

import Foundation
import MeshTestSupport
import Testing

/// The built executable `name`, next to the test bundle.
func builtBinary(_ name: String) -> URL {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if dir.path.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
    let candidate = dir.appendingPathComponent(name)
    if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
    return URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug/\(name)")
}

/// A running mesh. `stop()` ends every process and removes the directory.
final class MeshProcesses: @unchecked Sendable {
    let dir: String
    let redis: RedisServer
    /// Set: Redis is this primary, replica and Sentinels, and services find it through them.
    let ha: RedisHA?
    private(set) var alertService: Process?
    private(set) var workers: [Process] = []
    private(set) var api: Process?
    private(set) var httpPort: UInt16 = 0
    /// Set before starting services to send their logs to influxd too.
    var influxUDP: String?
    private var extra: [Process] = []

    var alertSocket: String { dir + "/alert-service.sock" }
    var reportsDir: String { dir + "/error_reports" }

    /// - Parameters:
    ///   - redisOverrides: options given to redis-server after the shipped redis.conf.
    ///   - highlyAvailable: a primary, a replica and three Sentinels (`RedisHA`) instead of one server.
    ///   - acl: Redis (and its Sentinels) with the shipped users (scripts/make-redis-acl): the
    ///     default user off, the services and `redisCLI` authenticate as `alertmesh` with a
    ///     password file.
    init(redisOverrides: [String] = [], highlyAvailable: Bool = false, acl: Bool = false) throws {
        dir = NSTemporaryDirectory() + "alertmesh-pipe-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let config = repositoryRoot.appendingPathComponent("compose/redis/redis.conf").path
        if acl {
            let script = repositoryRoot.appendingPathComponent("scripts/make-redis-acl").path
            let r = runProcess("/bin/bash", [script, dir + "/acl"])
            guard r.status == 0 else { throw MeshError("make-redis-acl: \(r.stderr)") }
            passwordFile = dir + "/acl/redis-password"
        }
        if highlyAvailable {
            // Down after 3 s, not RedisHA's 1 s: the whole suite shares two cores, and a Sentinel
            // that lost a fresh primary for a second under that load failed over a second time,
            // back to the server just restarted (seen in a CI run).
            let ha = try RedisHA(
                configFile: config, overrides: redisOverrides, downAfterMs: 3_000, acl: acl ? dir + "/acl" : nil)
            self.ha = ha
            redis = ha.servers[0]
        } else {
            ha = nil
            let aclFile = acl ? ["--aclfile", dir + "/acl/users.acl"] : []
            redis = try RedisServer(configFile: config, overrides: redisOverrides + aclFile)
        }
    }

    /// With `acl`: the password file the services and `redisCLI` use.
    private(set) var passwordFile: String?

    /// `--redis` of the workers and the api-service (and the password file, with `acl`).
    private var redisAddress: (worker: String, api: String) {
        if let ha { return (ha.sentinelURL, ha.sentinelURL) }
        if passwordFile != nil {
            return ("unix://alertmesh@" + redis.socketPath, "redis://alertmesh@127.0.0.1:\(redis.port)")
        }
        return ("unix:" + redis.socketPath, "127.0.0.1:\(redis.port)")
    }

    private var redisAuth: [String] { passwordFile.map { ["--redis-password-file", $0] } ?? [] }

    private func launch(_ name: String, _ arguments: [String], log: String) throws -> Process {
        let p = Process()
        p.executableURL = builtBinary(name)
        p.arguments = arguments + (influxUDP.map { ["--influx-udp", $0] } ?? [])
        p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALERTMESH_") }
        _ = FileManager.default.createFile(atPath: dir + "/" + log, contents: nil)
        let handle = FileHandle(forWritingAtPath: dir + "/" + log)
        handle?.seekToEndOfFile()
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return p
    }

    func startAlertService(_ extra: [String] = []) throws {
        alertService = try startAlertService(socket: alertSocket, log: "alert-service.log", extra)
    }

    /// Another alert-service on `socket`, writing to the same reports directory.
    func startAlertService(socket: String, log: String, _ options: [String] = []) throws -> Process {
        let p = try launch(
            "alert-service", ["--data-dir", dir, "--listen", "unix:" + socket, "--log-level", "info"] + options,
            log: log)
        extra.append(p)
        try waitFor("alert-service socket") { FileManager.default.fileExists(atPath: socket) }
        return p
    }

    func stopAlertService() {
        if let p = alertService, p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        alertService = nil
        try? FileManager.default.removeItem(atPath: alertSocket)
    }

    @discardableResult
    func startWorker(_ extra: [String] = []) throws -> Process {
        let w = try launch(
            "worker",
            [
                "--redis", redisAddress.worker, "--alert-endpoint", "unix:" + alertSocket, "--data-dir", dir,
                "--log-level", "info",
            ] + redisAuth + extra, log: "worker-\(workers.count).log")
        workers.append(w)
        return w
    }

    func startAPI(_ extra: [String] = []) throws {
        let probe = LoopbackSocket.listenTCP()
        httpPort = probe.port
        probe.close()
        api = try launch(
            "api-service",
            [
                "--http", "127.0.0.1:\(httpPort)", "--redis", redisAddress.api, "--data-dir", dir,
                "--log-level", "info",
            ] + redisAuth + extra,
            log: "api-service.log")
        try waitFor("api-service ready") { self.request("GET", "/readyz").status == 200 }
    }

    /// An alert-service, a worker listening on `dir/worker.sock` and api-service scraping both
    /// (`/metrics` and `/monitor` carry them); the worker's address.
    @discardableResult
    func startScrapedMesh(worker: [String] = [], api: [String] = []) throws -> String {
        let workerSocket = "unix:" + dir + "/worker.sock"
        if alertService == nil { try startAlertService() }
        try startWorker(["--listen", workerSocket] + worker)
        try startAPI(["--scrape", workerSocket, "--scrape", "unix:" + alertSocket] + api)
        return workerSocket
    }

    func waitFor(_ what: String, seconds: Double = 20, _ condition: () -> Bool) throws {
        if poll(seconds: seconds, everyMs: 20, until: condition) { return }
        throw MeshError("timed out waiting for \(what); logs:\n\(logs())")
    }

    /// Every log: the services' own files (DATA_DIR/logs) and what they wrote to stdout/stderr.
    func logs(tail: Int = 3000) -> String {
        var out: [String] = []
        for sub in ["", "/logs"] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir + sub)) ?? []
            for name in names.sorted() where name.hasSuffix(".log") {
                let text = (try? String(contentsOfFile: dir + sub + "/" + name, encoding: .utf8)) ?? ""
                out.append("== \(sub)/\(name)\n" + String(text.suffix(tail)))
            }
        }
        return out.joined(separator: "\n")
    }

    // MARK: HTTP

    struct Response {
        var status = 0
        var headers: [String: String] = [:]
        var json: [String: Any] = [:]
    }

    func request(_ method: String, _ path: String, body: String? = nil, headers: [String] = []) -> Response {
        let c = BlockingClient(port: httpPort, receiveTimeoutSeconds: 5)
        defer { c.close() }
        var text = "\(method) \(path) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
        for h in headers { text += h + "\r\n" }
        if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        c.send(text + "\r\n" + (body ?? ""))
        guard let raw = c.receiveResponses(1).responses.first, let split = raw.range(of: "\r\n\r\n") else {
            return Response()
        }
        var r = Response()
        let head = raw[..<split.lowerBound].split(separator: "\r\n")
        r.status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        for line in head.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { r.headers[parts[0].lowercased()] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        r.json = (try? JSONSerialization.jsonObject(with: Data(raw[split.upperBound...].utf8))) as? [String: Any] ?? [:]
        return r
    }

    /// A GET's raw body (for text answers such as /metrics).
    func requestText(_ method: String, _ path: String) -> String {
        let c = BlockingClient(port: httpPort, receiveTimeoutSeconds: 5)
        defer { c.close() }
        c.send("\(method) \(path) HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        guard let raw = c.receiveResponses(1).responses.first, let split = raw.range(of: "\r\n\r\n") else { return "" }
        return String(raw[split.upperBound...])
    }

    /// POSTs a message; the task id when accepted (202).
    func submit(_ message: String) -> String? {
        let body = String(decoding: try! JSONSerialization.data(withJSONObject: ["message": message]), as: UTF8.self)
        let r = request("POST", "/submit", body: body)
        return r.status == 202 ? r.json["task_id"] as? String : nil
    }

    func status(_ id: String) -> [String: Any] { request("GET", "/status/\(id)").json }

    /// What one client of `submitters` saw: ids that got 202, when each 503 with Retry-After
    /// came, and any other answer.
    struct SubmitLog {
        var accepted: [String] = []
        var refusedAt: [Date] = []
        var wrong: [String] = []
    }

    /// `count` clients, each on its own thread, submitting `message(client, i)` without pause
    /// until `stop` is set; after a 503 a client waits `pauseAfterRefusalUs`.
    func submitters(
        _ count: Int, until stop: StopFlag, pauseAfterRefusalUs: UInt32 = 0,
        message: @escaping @Sendable (Int, Int) -> String
    ) -> [BackgroundJob<SubmitLog>] {
        (0..<count).map { n in
            BackgroundJob { () -> SubmitLog in
                var log = SubmitLog()
                var i = 0
                while !stop.isSet {
                    i += 1
                    let body = String(
                        decoding: try! JSONSerialization.data(withJSONObject: ["message": message(n, i)]), as: UTF8.self
                    )
                    let r = self.request("POST", "/submit", body: body)
                    if r.status == 202, let id = r.json["task_id"] as? String {
                        log.accepted.append(id)
                    } else if r.status == 503 && r.headers["retry-after"] != nil {
                        log.refusedAt.append(Date())
                        if pauseAfterRefusalUs > 0 { usleep(pauseAfterRefusalUs) }
                    } else {
                        log.wrong.append("\(r.status) \(r.json)")
                    }
                }
                return log
            }
        }
    }

    func state(_ id: String) -> String? { status(id)["state"] as? String }

    // MARK: Redis, as an operator sees it

    func redisCLI(_ args: [String]) -> String {
        MeshTestSupport.redisCLI(["-s", redis.socketPath], user: "alertmesh", passwordFile: passwordFile, args)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `rpc-probe ADDR args…`: its output and exit status.
    func probe(_ address: String, _ args: [String]) -> ProcessResult {
        runProcess(builtBinary("rpc-probe").path, [address] + args)
    }

    /// A figure from `_sys.Stats` of the server at `address`.
    func figure(_ address: String, _ name: String) -> Double? {
        Self.figure(name, inStats: probe(address, ["stats", "--json"]).stdout)
    }

    /// A figure from what `rpc-probe … stats --json` printed.
    static func figure(_ name: String, inStats output: String) -> Double? {
        guard let json = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any] else {
            return nil
        }
        let figures = json["figures"] as? [String: Any] ?? json
        return (figures[name] as? NSNumber)?.doubleValue
    }

    func reports() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: reportsDir)) ?? []).filter { $0.hasSuffix(".txt") }
            .sorted()
    }

    func stop() {
        for p in workers + extra + [api].compactMap({ $0 }) where p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        stopAlertService()
        if let ha { ha.stop() } else { redis.stop() }
        try? FileManager.default.removeItem(atPath: dir)
    }
}

struct MeshError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
