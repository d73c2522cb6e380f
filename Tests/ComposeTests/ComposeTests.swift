// ComposeTests: compose/ is validated here, since no container engine runs on the development
// machine — the file parses, every service runs a real program with options it really has, the
// addresses line up, and the image carries exactly the libraries the binaries link.

import Foundation
import MeshTestSupport
import Testing

let root = repositoryRoot

func built(_ name: String) -> URL {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if dir.path.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
    return dir.appendingPathComponent(name)
}

func output(_ path: String, _ arguments: [String]) -> String { runProcess(path, arguments).stdout }

/// compose/`file` as JSON, through Debian's python3-yaml (a well-kept YAML parser).
func compose(_ file: String = "compose.yaml") throws -> [String: Any] {
    let json = output(
        "/usr/bin/python3",
        [
            "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            root.path + "/compose/" + file,
        ])
    return try #require(
        try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(file) does not parse")
}

/// host and port of `tcp://host:port`, `host:port`, `redis://user@host:port`.
func hostPort(_ address: String) -> (String, Int)? {
    var a = Substring(address)
    if let scheme = a.firstRange(of: "://") { a = a[scheme.upperBound...] }
    if let at = a.lastIndex(of: "@") { a = a[a.index(after: at)...] }
    guard let colon = a.lastIndex(of: ":"), let port = Int(a[a.index(after: colon)...]) else { return nil }
    return (String(a[..<colon]), port)
}

@Suite struct ComposeTests {
    @Test func everyServiceRunsARealProgramWithRealOptions() throws {
        let services = try #require(try compose()["services"] as? [String: [String: Any]])
        #expect(
            Set(services.keys).isSuperset(of: [
                "redis", "influxdb", "alert-service-1", "alert-service-2", "worker", "api-service",
            ]))
        var checked = 0
        for (name, service) in services where (service["image"] as? String)?.hasPrefix("alertmesh") == true {
            let command = try #require(service["command"] as? [String], "\(name) has no command")
            let program = try #require(command.first)
            #expect(["api-service", "worker", "alert-service"].contains(program), "\(name) runs \(program)")
            let help = output(built(program).path, ["--help"])
            #expect(help.contains("USAGE"), "\(program) --help")
            for (key, value) in service["environment"] as? [String: Any] ?? [:] where key.hasPrefix("ALERTMESH_") {
                let option =
                    "--" + key.dropFirst("ALERTMESH_".count).lowercased().replacingOccurrences(of: "_", with: "-")
                #expect(help.contains(option), "\(name): \(key) is not an option of \(program) (\(option))")
                #expect(!"\(value)".isEmpty)
                checked += 1
            }
            #expect(service["healthcheck"] != nil, "\(name) has no health check")
            #expect(service["restart"] as? String == "unless-stopped")
        }
        #expect(checked > 15)
        // The scalable worker has nothing that stops `--scale worker=N`.
        let worker = try #require(services["worker"])
        #expect(worker["container_name"] == nil && worker["ports"] == nil)
    }

    /// Prometheus scrapes api-service where it listens and loads the shipped rules, from the files
    /// `promtool` checks in PipelineTests/PrometheusTests.
    @Test func prometheusScrapesTheAPIServiceWithTheShippedRules() throws {
        let services = try #require(try compose()["services"] as? [String: [String: Any]])
        let prometheus = try #require(services["prometheus"])
        let volumes = prometheus["volumes"] as? [String] ?? []
        for file in ["prometheus.yml", "alertmesh.rules.yml"] {
            #expect(volumes.contains("./prometheus/\(file):/etc/prometheus/\(file):ro"), "\(file) is mounted")
        }
        let config = try compose("prometheus/prometheus.yml")
        #expect(config["rule_files"] as? [String] == ["alertmesh.rules.yml"])
        let jobs = try #require(config["scrape_configs"] as? [[String: Any]])
        let targets = jobs.flatMap {
            ($0["static_configs"] as? [[String: Any]] ?? []).flatMap { $0["targets"] as? [String] ?? [] }
        }
        let api = try #require(services["api-service"]?["environment"] as? [String: Any])
        // The metrics listener (--metrics-listen) when there is one: /metrics off the public port.
        let metrics = api["ALERTMESH_METRICS_LISTEN"] as? String ?? api["ALERTMESH_HTTP"] as? String ?? ""
        let port = try #require(hostPort(metrics)?.1)
        #expect(targets == ["api-service:\(port)"])
    }

    @Test func addressesLineUpBetweenServices() throws {
        let services = try #require(try compose()["services"] as? [String: [String: Any]])
        func env(_ service: String, _ key: String) -> String? {
            (services[service]?["environment"] as? [String: Any])?[key].map { "\($0)" }
        }
        func listenPort(_ service: String) -> Int? { env(service, "ALERTMESH_LISTEN").flatMap(hostPort)?.1 }
        // Redis: the port its command sets.
        let redisCommand = try #require(services["redis"]?["command"] as? [String])
        let redisPort = Int(redisCommand[(redisCommand.firstIndex(of: "--port") ?? 0) + 1])
        for service in ["worker", "api-service"] {
            let (host, port) = try #require(env(service, "ALERTMESH_REDIS").flatMap(hostPort))
            #expect(host == "redis" && port == redisPort, "\(service) → redis")
        }
        // InfluxDB's UDP listener.
        let udp = try #require(env("influxdb", "INFLUXDB_UDP_0_BIND_ADDRESS").flatMap(hostPort))
        for (name, _) in services where env(name, "ALERTMESH_INFLUX_UDP") != nil {
            let (host, port) = try #require(env(name, "ALERTMESH_INFLUX_UDP").flatMap(hostPort))
            #expect(host == "influxdb" && port == udp.1, "\(name) → influxdb UDP")
        }
        // Worker → alert-services, api-service → everything it scrapes.
        for list in [env("worker", "ALERTMESH_ALERT_ENDPOINT"), env("api-service", "ALERTMESH_SCRAPE")] {
            for target in try #require(list).split(separator: ",") {
                let (host, port) = try #require(hostPort(String(target)))
                #expect(services[host] != nil, "\(target): no service \(host)")
                #expect(listenPort(host) == port, "\(target): \(host) listens on \(listenPort(host) ?? -1)")
            }
        }
        // The published HTTP port is the one api-service serves.
        let http = try #require(env("api-service", "ALERTMESH_HTTP").flatMap(hostPort))
        let published = try #require(services["api-service"]?["ports"] as? [String])
        #expect(published.contains { $0.hasSuffix(":\(http.1)") })
        // Health checks probe the port each service listens on.
        for name in ["alert-service-1", "alert-service-2", "worker"] {
            let test = (services[name]?["healthcheck"] as? [String: Any])?["test"] as? [String] ?? []
            #expect(test.contains("tcp://127.0.0.1:\(listenPort(name) ?? -1)"), "\(name) health check")
        }
        // depends_on names services, and waits for health only where there is a health check.
        for (name, service) in services {
            for (dependency, rule) in service["depends_on"] as? [String: [String: String]] ?? [:] {
                #expect(services[dependency] != nil, "\(name) depends on unknown \(dependency)")
                if rule["condition"] == "service_healthy" { #expect(services[dependency]?["healthcheck"] != nil) }
            }
        }
        // Mounted configuration files exist in the repository.
        for service in services.values {
            for volume in service["volumes"] as? [String] ?? [] where volume.hasPrefix("./") {
                let path = root.path + "/compose/" + volume.dropFirst(2).prefix { $0 != ":" }
                #expect(FileManager.default.fileExists(atPath: path), "\(path) missing")
            }
        }
    }

    @Test func theImageCarriesExactlyTheLibrariesTheBinariesLink() throws {
        let dockerfile = try String(contentsOfFile: root.path + "/compose/Dockerfile", encoding: .utf8)
        let stages = dockerfile.components(separatedBy: "\nFROM ")
        let runtime = try #require(stages.last)
        let installLine = try #require(runtime.split(separator: "\n").first { $0.contains("apt-get install") })
        let listed = Set(
            installLine.split(separator: " ").map(String.init).filter {
                !$0.hasPrefix("-") && !["&&", "apt-get", "install", "\\"].contains($0)
            })
        // What the binaries link, outside the Swift runtime (linked statically in the image) and
        // the C runtime every Debian image has.
        var needed: Set<String> = []
        for program in ["api-service", "worker", "alert-service", "rpc-probe"] {
            for line in output("/usr/bin/ldd", [built(program).path]).split(separator: "\n") {
                let parts = line.split(separator: " ")
                guard parts.count >= 3, parts[1] == "=>" else { continue }
                let path = String(parts[2])
                if path.contains("swift") { continue }
                // Debian's merged /usr: ldd may say /lib/…, dpkg knows /usr/lib/… (or the reverse).
                let candidates = [path, "/usr" + path, String(path.dropFirst(4))]
                let owner =
                    candidates.lazy.map { output("/usr/bin/dpkg", ["-S", $0]) }.first { !$0.isEmpty }?
                    .split(separator: ":").first.map(String.init) ?? "unknown: \(path)"
                if ["libc6", "libgcc-s1"].contains(owner) { continue }
                needed.insert(owner)
            }
        }
        #expect(needed.isSubset(of: listed), "the image lacks \(needed.subtracting(listed))")
        #expect(listed.isSubset(of: needed), "the image installs what nothing links: \(listed.subtracting(needed))")
        #expect(runtime.contains("USER alertmesh"), "runs as a non-root user")
        // The build stage installs the -dev packages scripts/install-deps installs for a build.
        let deps = try String(contentsOfFile: root.path + "/scripts/install-deps", encoding: .utf8)
        let buildLine = try #require(deps.split(separator: "\n").first { $0.hasPrefix("build=(") })
        for package in buildLine.dropFirst("build=(".count).dropLast().split(separator: " ") {
            #expect(
                stages.first { $0.contains("AS build") }?.contains(package) == true, "the build stage lacks \(package)")
        }
    }
}
