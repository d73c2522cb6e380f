// RedisHA: a real Redis primary, its replica and three redis-sentinel processes on loopback.

import Foundation

/// A primary and a replica (`RedisServer`s, AOF on) watched by three Sentinels on free loopback
/// ports, quorum 2, with a short `down-after-milliseconds` so a test's failover takes seconds.
/// With `acl`, every server and Sentinel runs with the users scripts/make-redis-acl made there
/// (the default user off), and the helpers below log in as `admin`. `stop()` ends every process
/// and removes their directories.
public final class RedisHA: @unchecked Sendable {
    public static let masterName = "alertmesh"
    /// The servers in the order they were started: the first is the primary until a failover.
    public let servers: [RedisServer]
    public private(set) var sentinels: [Sentinel] = []
    /// scripts/make-redis-acl's directory, when the servers and Sentinels have its users.
    public let acl: String?

    /// redis-cli against `target` (`["-p", port]` or `["-s", socket]`), as `admin` with `acl`.
    static func cli(_ acl: String?, _ target: [String], _ args: [String]) -> String {
        redisCLI(target, user: acl.map { _ in "admin" }, passwordFile: acl.map { $0 + "/admin-password" }, args)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func cli(_ target: [String], _ args: [String]) -> String { RedisHA.cli(acl, target, args) }

    /// One redis-sentinel process with a config file of its own (Sentinel rewrites it).
    public final class Sentinel: @unchecked Sendable {
        public let port: UInt16
        let directory: String
        let acl: String?
        private var process = Process()

        init(monitoring primaryPort: UInt16, downAfterMs: Int, acl: String?) throws {
            self.acl = acl
            directory = NSTemporaryDirectory() + "alertmesh-sentinel-\(UUID().uuidString.prefix(8))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let probe = LoopbackSocket.listenTCP()
            port = probe.port
            probe.close()
            let config = """
                port \(port)
                bind 127.0.0.1
                daemonize no
                dir \(directory)
                logfile \(directory)/sentinel.log
                sentinel monitor \(RedisHA.masterName) 127.0.0.1 \(primaryPort) 2
                sentinel down-after-milliseconds \(RedisHA.masterName) \(downAfterMs)
                sentinel failover-timeout \(RedisHA.masterName) 10000
                sentinel parallel-syncs \(RedisHA.masterName) 1

                """
            try config.write(toFile: directory + "/sentinel.conf", atomically: true, encoding: .utf8)
            if let acl {
                // Its users, put in as make run and compose.ha.yaml put them in.
                let script = repositoryRoot.appendingPathComponent("compose/redis/set-sentinel-auth").path
                let r = runProcess("/bin/sh", [script, directory + "/sentinel.conf", acl + "/sentinel-auth.conf"])
                guard r.status == 0 else {
                    throw NSError(domain: "RedisHA", code: 2, userInfo: [NSLocalizedDescriptionKey: r.stderr])
                }
            }
            try launch()
        }

        func launch() throws {
            process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-sentinel")
            process.arguments = [directory + "/sentinel.conf"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        public var log: String { (try? String(contentsOfFile: directory + "/sentinel.log", encoding: .utf8)) ?? "" }

        public func cli(_ args: [String]) -> String { RedisHA.cli(acl, ["-p", String(port)], args) }

        public func kill() {
            if process.isRunning {
                Foundation.kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }

        func stop() {
            kill()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// - Parameters:
    ///   - configFile: the redis.conf both servers read first (the project's own).
    ///   - overrides: more options for both servers.
    ///   - acl: a directory scripts/make-redis-acl wrote: the servers' and Sentinels' users.
    public init(configFile: String? = nil, overrides: [String] = [], downAfterMs: Int = 1_000, acl: String? = nil)
        throws
    {
        self.acl = acl
        let overrides =
            overrides + (acl.map { ["--aclfile", $0 + "/users.acl", "--include", $0 + "/replication.conf"] } ?? [])
        let primary = try RedisServer(configFile: configFile, overrides: ["--appendonly", "yes"] + overrides)
        var servers = [primary]
        do {
            servers.append(
                try RedisServer(
                    configFile: configFile,
                    overrides: ["--appendonly", "yes"] + overrides + ["--replicaof", "127.0.0.1", String(primary.port)])
            )
            self.servers = servers
            for _ in 0..<3 {
                sentinels.append(try Sentinel(monitoring: primary.port, downAfterMs: downAfterMs, acl: acl))
            }
        } catch {
            servers.forEach { $0.stop() }
            sentinels.forEach { $0.stop() }
            throw error
        }
    }

    /// `sentinel://…/alertmesh` for `--redis` (`sentinel://alertmesh@…` with `acl`).
    public var sentinelURL: String {
        "sentinel://" + (acl == nil ? "" : "alertmesh@")
            + sentinels.map { "127.0.0.1:\($0.port)" }.joined(separator: ",") + "/" + RedisHA.masterName
    }

    /// The port of the primary the Sentinels name now (asking the first that answers).
    public func primaryPort() -> UInt16? {
        for s in sentinels {
            let lines = s.cli(["SENTINEL", "get-master-addr-by-name", RedisHA.masterName]).split(separator: "\n")
            if lines.count == 2, let port = UInt16(lines[1]) { return port }
        }
        return nil
    }

    /// The server listening on `port`.
    public func server(on port: UInt16) -> RedisServer? { servers.first { $0.port == port } }

    /// `ROLE`'s first line of `server` ("master", "slave"), or "" when it does not answer.
    public func role(_ server: RedisServer) -> String {
        cli(["-s", server.socketPath], ["ROLE"]).split(separator: "\n").first.map(String.init) ?? ""
    }

    /// Waits until every Sentinel knows the others and the replica (ready to fail over), and the
    /// replica is in sync.
    public func waitUntilReady(seconds: Double = 60) throws {
        let ready = poll(seconds: seconds, everyMs: 100) {
            sentinels.allSatisfy {
                RedisHA.isReady(sentinelMaster: $0.cli(["SENTINEL", "master", RedisHA.masterName]))
            }
                && servers.dropFirst().allSatisfy {
                    cli(["-s", $0.socketPath], ["INFO", "replication"]).contains("master_link_status:up")
                }
        }
        if ready { return }
        throw NSError(
            domain: "RedisHA", code: 1,
            userInfo: [NSLocalizedDescriptionKey: "sentinels not ready: \(sentinels.first?.log.suffix(1500) ?? "")"])
    }

    /// Whether a Sentinel's `SENTINEL master <name>` answer (redis-cli's one line per field and
    /// value) shows it knows the two other Sentinels and the replica: ready to fail over.
    public static func isReady(sentinelMaster output: String) -> Bool {
        let info = output.split(separator: "\n").map(String.init)
        func value(_ key: String) -> String? {
            guard let i = info.firstIndex(of: key), i + 1 < info.count else { return nil }
            return info[i + 1]
        }
        return value("num-other-sentinels") == "2" && value("num-slaves") == "1"
    }

    /// What every live server and Sentinel refused and to whom (`ACL LOG`: "user: command"), for
    /// a check that the shipped users can do all their work.
    public func aclDenials() -> [String] {
        let targets = servers.map { ["-s", $0.socketPath] } + sentinels.map { ["-p", String($0.port)] }
        return targets.flatMap { target -> [String] in
            let lines = cli(target, ["ACL", "LOG"]).split(separator: "\n").map(String.init)
            // redis-cli prints each entry's fields and values on lines of their own, "count" first.
            var entries: [String] = []
            var fields: [String: String] = [:]
            func flush() {
                guard !fields.isEmpty else { return }
                let user = fields["username"] ?? "?"
                entries.append(
                    "\(target.joined(separator: " ")) \(user): \(fields["reason"] ?? "?") \(fields["object"] ?? "?")")
                fields = [:]
            }
            for i in stride(from: 0, to: lines.count - 1, by: 2) {
                if lines[i] == "count" { flush() }
                fields[lines[i]] = lines[i + 1]
            }
            flush()
            return entries
        }
    }

    public func stop() {
        sentinels.forEach { $0.stop() }
        servers.forEach { $0.stop() }
    }
}
