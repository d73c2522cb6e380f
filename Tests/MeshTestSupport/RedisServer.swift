// RedisServer: a real redis-server for tests — a temp dir, a Unix socket and a free TCP port.

import Foundation

/// Starts `redis-server` (Debian's package) privately: its own temp directory, a Unix socket, a
/// free loopback port, no persistence unless asked. `stop()` kills it and removes the directory.
public final class RedisServer: @unchecked Sendable {
    public let directory: String
    public let socketPath: String
    public let port: UInt16
    private var process = Process()
    private var arguments: [String] = []

    /// - Parameters:
    ///   - appendOnly: AOF on (appendfsync everysec), so `restart()` after `kill()` finds the data.
    ///   - configFile: a redis.conf read first (the project's own, say); the test's port, socket
    ///     and directory are given after it.
    ///   - overrides: more `--option value` pairs, given last.
    public init(appendOnly: Bool = false, configFile: String? = nil, overrides: [String] = []) throws {
        directory = NSTemporaryDirectory() + "alertmesh-redis-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        socketPath = directory + "/redis.sock"
        // A free port: bind port 0, read it back, release it for redis (a short race, retried below).
        let probe = LoopbackSocket.listenTCP()
        port = probe.port
        probe.close()
        // A private copy: Sentinel makes the servers it reconfigures rewrite their config file
        // (CONFIG REWRITE), which must never be the project's own.
        var config: String?
        if let configFile {
            config = directory + "/redis.conf"
            try FileManager.default.copyItem(atPath: configFile, toPath: config!)
        }
        arguments =
            (config.map { [$0] } ?? []) + [
                "--port", String(port), "--bind", "127.0.0.1", "--unixsocket", socketPath, "--unixsocketperm", "700",
                "--dir", directory, "--daemonize", "no",
                "--logfile", directory + "/redis.log",
            ] + (configFile == nil ? ["--save", "", "--appendonly", appendOnly ? "yes" : "no"] : []) + overrides
        try launch()
    }

    /// Starts (again) with the same port, socket and directory: after `kill()`, a restart that
    /// finds its AOF.
    public func restart() throws {
        kill()
        try launch()
    }

    private func launch() throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? FileManager.default.removeItem(atPath: socketPath)
        try process.run()
        for _ in 0..<200 {
            if FileManager.default.fileExists(atPath: socketPath) { return }
            if !process.isRunning { break }
            usleep(25_000)
        }
        let log = (try? String(contentsOfFile: directory + "/redis.log", encoding: .utf8)) ?? ""
        stop()
        throw NSError(
            domain: "RedisServer", code: 1,
            userInfo: [NSLocalizedDescriptionKey: "redis-server did not start: \(log.suffix(500))"])
    }

    /// Kills the server (SIGKILL: as a crash would) and waits for it.
    /// Freezes the server (SIGSTOP): connections stay open, nothing is answered.
    public func pause() { Foundation.kill(process.processIdentifier, SIGSTOP) }

    /// Thaws it (SIGCONT): it goes on with what it had read.
    public func resume() { Foundation.kill(process.processIdentifier, SIGCONT) }

    public func kill() {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    public func stop() {
        kill()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// `redis-cli` against `target` (`["-p", port]` or `["-s", socket]`), logged in as `user` with
/// the first line of `passwordFile` when both are given (in REDISCLI_AUTH: no password on the
/// command line). Its standard output, as printed.
public func redisCLI(_ target: [String], user: String? = nil, passwordFile: String? = nil, _ args: [String]) -> String {
    var login: [String] = []
    var environment: [String: String] = [:]
    if let user, let passwordFile, let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) {
        login = ["--user", user]
        environment["REDISCLI_AUTH"] = text.split(separator: "\n").first.map(String.init) ?? ""
    }
    return runProcess("/usr/bin/redis-cli", target + login + args, environment: environment).stdout
}
