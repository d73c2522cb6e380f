// ComposeHATests: compose.ha.yaml, the highly available Redis overlay, validated as compose.yaml
// is — merged onto it as `docker compose -f compose.yaml -f compose.ha.yaml` merges.

import Foundation
import MeshRedis
import MeshTestSupport
import Testing

/// compose.yaml with compose.ha.yaml on top: a service's mappings (environment, depends_on) merge
/// key by key, anything else the overlay sets replaces the base's — Compose's merge rules for
/// the keys these files use.
func composeHA() throws -> [String: [String: Any]] {
    var services = try #require(try compose()["services"] as? [String: [String: Any]])
    let overlay = try #require(try compose("compose.ha.yaml")["services"] as? [String: [String: Any]])
    for (name, changes) in overlay {
        var service = services[name] ?? [:]
        for (key, value) in changes {
            if let base = service[key] as? [String: Any], let more = value as? [String: Any] {
                service[key] = base.merging(more) { $1 }
            } else {
                service[key] = value
            }
        }
        services[name] = service
    }
    return services
}

/// The top-level secrets of compose.yaml and compose.ha.yaml together (Compose merges them by name).
func declaredSecrets() throws -> [String: [String: Any]] {
    let base = try compose()["secrets"] as? [String: [String: Any]] ?? [:]
    return base.merging(try compose("compose.ha.yaml")["secrets"] as? [String: [String: Any]] ?? [:]) { $1 }
}

@Suite struct ComposeHATests {
    @Test func theServicesFindThePrimaryThroughTheSentinels() throws {
        let services = try composeHA()
        let sentinels = services.keys.filter { $0.hasPrefix("sentinel-") }.sorted()
        #expect(sentinels == ["sentinel-1", "sentinel-2", "sentinel-3"])
        let template = try String(contentsOfFile: root.path + "/compose/redis/sentinel.conf", encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ").map(String.init) }
        let sentinelPort = try #require(template.first { $0.first == "port" }.flatMap { UInt16($0[1]) })
        let monitor = try #require(template.first { $0.starts(with: ["sentinel", "monitor"]) })
        #expect(monitor.count == 6 && monitor[5] == "2", "a quorum of 2 of the 3: \(monitor)")
        let (masterName, primaryHost, primaryPort) = (monitor[2], monitor[3], monitor[4])
        #expect(template.contains(["sentinel", "resolve-hostnames", "yes"]))

        // The primary the Sentinels watch is the redis service, on the port it serves.
        let redis = try #require(services[primaryHost]?["command"] as? [String], "no service \(primaryHost)")
        #expect(redis[(redis.firstIndex(of: "--port") ?? 0) + 1] == primaryPort)
        let replica = try #require(services["redis-replica"]?["command"] as? [String])
        let replicaOf = try #require(replica.firstIndex(of: "--replicaof"))
        #expect(Array(replica[(replicaOf + 1)...].prefix(2)) == [primaryHost, primaryPort])
        // Both refuse writes while cut off from their replica; both have the shipped users and
        // log in to a primary as replica (either may be one after a failover).
        let secrets = try declaredSecrets()
        for (name, command) in [("redis", redis), ("redis-replica", replica)] {
            #expect(command.contains("--min-replicas-to-write"))
            #expect(!command.contains("--protected-mode"), "\(name): \(command)")
            #expect(command[(command.firstIndex(of: "--aclfile") ?? 0) + 1] == "/run/secrets/redis-acl", "\(name)")
            #expect(command[(command.firstIndex(of: "--include") ?? 0) + 1] == "/run/secrets/redis-replication")
            let mounted = try #require(services[name]?["secrets"] as? [String])
            #expect(Set(["redis-acl", "redis-password", "redis-replication"]).isSubset(of: mounted), "\(name)")
            #expect(services[name]?["networks"] as? [String] == ["mesh"], "\(name)")
            let announce = try #require(command.firstIndex(of: "--replica-announce-ip"))
            #expect(services[command[announce + 1]] != nil, "announces \(command[announce + 1])")
        }

        // worker and api-service: sentinel:// naming exactly the three Sentinels and the master.
        for name in ["worker", "api-service"] {
            let env = try #require(services[name]?["environment"] as? [String: Any])
            let login = RedisCredentials.split(address: try #require(env["ALERTMESH_REDIS"] as? String))
            #expect(login.user == "alertmesh" && login.password == nil, "\(name): the user, not the password")
            let address = login.address
            guard case .sentinel(let master, let endpoints) = try RedisService(parsing: address) else {
                Issue.record("\(name): \(address) is not sentinel://")
                continue
            }
            #expect(master == masterName)
            #expect(endpoints.map { "\($0)" }.sorted() == sentinels.map { "\($0):\(sentinelPort)" })
            #expect(env["ALERTMESH_REDIS_MIN_REPLICAS"] as? String == "1")
            let help = output(built(name).path, ["--help"])
            for key in env.keys where key.hasPrefix("ALERTMESH_") {
                let option = "--" + key.dropFirst(10).lowercased().replacingOccurrences(of: "_", with: "-")
                #expect(help.contains(option), "\(name): \(key) is not an option")
            }
            let dependsOn = try #require(services[name]?["depends_on"] as? [String: Any])
            #expect(Set(sentinels).isSubset(of: dependsOn.keys), "\(name) waits for the Sentinels")
        }

        // Each Sentinel: its own writable copy of the template, its own name, a health check.
        let declared = try #require(try compose("compose.ha.yaml")["volumes"] as? [String: Any?])
        for name in sentinels {
            let service = try #require(services[name])
            let command = (service["command"] as? [String] ?? []).joined(separator: " ")
            #expect(command.contains("announce-ip \(name)"), "\(name): \(command)")
            #expect(command.contains("cp /etc/redis/sentinel.conf /data/sentinel.conf"))
            // Its users and logins, put in before every start (the same script make run uses).
            #expect(
                command.contains("sh /etc/redis/set-sentinel-auth /data/sentinel.conf /run/secrets/redis-sentinel-auth")
            )
            #expect(Set(["redis-sentinel-auth", "redis-password"]).isSubset(of: service["secrets"] as? [String] ?? []))
            #expect(service["networks"] as? [String] == ["mesh"], "\(name)")
            let volumes = service["volumes"] as? [String] ?? []
            #expect(volumes.contains("./redis/sentinel.conf:/etc/redis/sentinel.conf:ro"))
            #expect(volumes.contains("./redis/set-sentinel-auth:/etc/redis/set-sentinel-auth:ro"))
            let data = try #require(volumes.first { $0.hasSuffix(":/data") }?.split(separator: ":").first)
            #expect(declared.keys.contains(String(data)), "\(name): volume \(data) is not declared")
            #expect(service["healthcheck"] != nil && service["restart"] as? String == "unless-stopped")
        }
        for (name, service) in services {
            for (dependency, _) in service["depends_on"] as? [String: Any] ?? [:] {
                #expect(services[dependency] != nil, "\(name) depends on unknown \(dependency)")
            }
            for secret in service["secrets"] as? [String] ?? [] {
                #expect(secrets[secret] != nil, "\(name) mounts the undeclared secret \(secret)")
            }
        }
        // The files behind the new secrets are what scripts/make-redis-acl writes.
        let script = try String(contentsOfFile: root.path + "/scripts/make-redis-acl", encoding: .utf8)
        for secret in ["redis-replication", "redis-sentinel-auth"] {
            let file = try #require(secrets[secret]?["file"] as? String)
            #expect(script.contains("DIR/" + (file as NSString).lastPathComponent), "\(secret): \(file)")
        }
    }

    @Test func theHealthChecksPassWithTheShippedUsersAndFailWithAWrongPassword() throws {
        // The compose health checks, run against real servers and Sentinels with the users
        // scripts/make-redis-acl makes: the paths and ports are this test's, the commands compose's.
        let acl = NSTemporaryDirectory() + "alertmesh-acl-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: acl) }
        let made = runProcess("/bin/bash", [root.path + "/scripts/make-redis-acl", acl])
        try #require(made.status == 0, "\(made.stderr)")
        let ha = try RedisHA(acl: acl)
        defer { ha.stop() }
        let services = try composeHA()
        func check(_ service: String, port: UInt16, password: String) throws -> Int32 {
            let test = try #require(services[service]?["healthcheck"] as? [String: Any])["test"] as? [String]
            let shell = try #require(test?.last)
                .replacingOccurrences(of: "$$", with: "$")  // Compose's escape for a literal $
                .replacingOccurrences(of: "/run/secrets/redis-password", with: password)
                .replacingOccurrences(of: "-p 26379 ", with: "")
                .replacingOccurrences(of: "redis-cli ", with: "redis-cli -p \(port) ")
            return runProcess("/bin/sh", ["-c", shell]).status
        }
        let checks = [
            ("redis", ha.servers[0].port), ("redis-replica", ha.servers[1].port), ("sentinel-1", ha.sentinels[0].port),
        ]
        for (service, port) in checks {
            #expect(try check(service, port: port, password: acl + "/redis-password") == 0, "\(service)")
            #expect(try check(service, port: port, password: acl + "/admin-password") != 0, "\(service)")
        }
    }
}
