// RedisOptions: which Redis a service uses and how durable its writes must be.

public import ArgumentParser
public import MeshRedis

/// Redis options of the api-service and the worker; include with `@OptionGroup var redis: RedisOptions`.
public struct RedisOptions: ParsableArguments {
    @Option(
        name: .customLong("redis"),
        help: ArgumentHelp(
            "Redis: host:port, unix:/path, or sentinel://host:port[,host:port...]/<master-name>.",
            discussion: "With sentinel://, the primary is found through the Sentinels and followed across failovers.",
            valueName: "addr"))
    public var address: String = "127.0.0.1:6379"

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
            _ = try RedisService(parsing: address)
        } catch {
            throw ValidationError("--redis: \(error)")
        }
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
        get throws { try RedisService(parsing: address) }
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
        return c
    }
}
