// ComposeHATests: compose.ha.yaml, the highly available Redis overlay, validated as compose.yaml
// is — merged onto it as `docker compose -f compose.yaml -f compose.ha.yaml` merges.

import Foundation
import MeshRedis
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
        // Both refuse writes while cut off from their replica.
        for command in [redis, replica] {
            #expect(command.contains("--min-replicas-to-write"))
            let announce = try #require(command.firstIndex(of: "--replica-announce-ip"))
            #expect(services[command[announce + 1]] != nil, "announces \(command[announce + 1])")
        }

        // worker and api-service: sentinel:// naming exactly the three Sentinels and the master.
        for name in ["worker", "api-service"] {
            let env = try #require(services[name]?["environment"] as? [String: Any])
            let address = try #require(env["ALERTMESH_REDIS"] as? String)
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
            let volumes = service["volumes"] as? [String] ?? []
            #expect(volumes.contains("./redis/sentinel.conf:/etc/redis/sentinel.conf:ro"))
            let data = try #require(volumes.first { $0.hasSuffix(":/data") }?.split(separator: ":").first)
            #expect(declared.keys.contains(String(data)), "\(name): volume \(data) is not declared")
            #expect(service["healthcheck"] != nil && service["restart"] as? String == "unless-stopped")
        }
        for (name, service) in services {
            for (dependency, _) in service["depends_on"] as? [String: Any] ?? [:] {
                #expect(services[dependency] != nil, "\(name) depends on unknown \(dependency)")
            }
        }
    }
}
