// RedisOptions: which Redis a service uses and how durable its writes must be.

public import ArgumentParser
import FoundationEssentials  // not Foundation: a static binary would carry all of it
public import MeshRedis

/// Redis options of the api-service and the worker; include with `@OptionGroup var redis: RedisOptions`.
public struct RedisOptions: ParsableArguments {
    @Option(
        name: .customLong("redis"),
        help: ArgumentHelp(
            "Redis: host:port, redis://[user[:password]@]host:port, unix:/path, unix://user@/path, or sentinel://[user@]host:port[,host:port...]/<master-name>.",
            discussion: "With sentinel://, the primary is found through the Sentinels and followed across failovers. "
                + "A user (an ACL user of Redis 6+) is authenticated with AUTH on every connection, to the "
                + "servers and the Sentinels alike; keep its password in --redis-password-file rather than on "
                + "the command line.",
            valueName: "addr"))
    public var address: String = "127.0.0.1:6379"

    @Option(
        name: .customLong("redis-password-file"),
        help: ArgumentHelp(
            "A file whose first line is the Redis password (beats one in --redis).", valueName: "file"))
    public var passwordFile: String?

    @Option(name: .customLong("redis-prefix"), help: "Prefix (with its hash tag) of every Redis key.")
    public var prefix: String = "{alertmesh}"

    @Option(
        name: .customLong("redis-min-replicas"),
        help: ArgumentHelp(
            "Replicas that must confirm a task's writes (WAIT) before they count (default: 1 with sentinel://, else 0).",
            discussion: "A submit is answered 202, and a result stored, only once this many replicas have it, so "
                + "a failover cannot lose it.",
            valueName: "n"))
    public var minReplicas: Int?

    @Option(
        name: .customLong("redis-replica-timeout-ms"),
        help: ArgumentHelp("How long to wait for those replicas, in ms (past it: 503).", valueName: "ms"))
    public var replicaTimeoutMs: UInt64 = 1_000

    public init() {}

    public func validate() throws {
        do {
            _ = try service
        } catch {
            throw ValidationError("--redis: \(error)")
        }
        _ = try credentials()
        guard !prefix.isEmpty else { throw ValidationError("--redis-prefix: must not be empty") }
        if let minReplicas, !(0...16).contains(minReplicas) {
            throw ValidationError("--redis-min-replicas: 0...16, got \(minReplicas)")
        }
        guard (1...60_000).contains(replicaTimeoutMs) else {
            throw ValidationError("--redis-replica-timeout-ms: 1...60000, got \(replicaTimeoutMs)")
        }
    }

    /// The service `--redis` names (checked by `validate()`).
    public var service: RedisService {
        get throws { try RedisService(parsing: RedisCredentials.split(address: address).address) }
    }

    /// The user and password to AUTH with, from --redis and --redis-password-file; nil: none.
    public func credentials() throws -> RedisCredentials? {
        let (_, user, inline) = RedisCredentials.split(address: address)
        var password = inline
        if let passwordFile {
            guard let data = FileManager.default.contents(atPath: passwordFile) else {
                throw ValidationError("--redis-password-file: cannot read \(passwordFile)")
            }
            // The first line, without surrounding blanks (a trailing \r or space from an editor).
            let first = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).first ?? []
            let blank: (UInt8) -> Bool = { $0 == 0x20 || (0x09...0x0D).contains($0) }
            let line = String(
                decoding: first.drop(while: blank).reversed().drop(while: blank).reversed(), as: UTF8.self)
            guard !line.isEmpty else { throw ValidationError("--redis-password-file: \(passwordFile) is empty") }
            password = line
        }
        guard let password else {
            if let user { throw ValidationError("--redis-password-file: user \(user) needs a password") }
            return nil
        }
        return RedisCredentials(user: user, password: password)
    }

    /// What to say, and how to stop, when Redis refuses our configuration (credentials, ACL):
    /// one line on stderr naming the option, exit status 78 (EX_CONFIG). Retrying cannot help.
    public func stopOnConfigurationError(_ client: RedisClient, program: String, log: @escaping (String) -> Void) {
        let option = passwordFile != nil ? "--redis-password-file" : "--redis"
        client.onConfigurationError = { error in
            log(error.message)
            exitWithLine("\(program): \(option): \(error.message)", status: 78)
        }
    }

    /// A client configuration with these options' replica wait.
    public func configuration() throws -> RedisClient.Configuration {
        var c = RedisClient.Configuration()
        if case .sentinel = try service {
            c.minReplicas = minReplicas ?? 1
        } else {
            c.minReplicas = minReplicas ?? 0
        }
        c.replicaTimeoutMs = replicaTimeoutMs
        c.credentials = try credentials()
        return c
    }
}
