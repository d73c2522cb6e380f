// ManyHostsTests: the mesh spread over "machines" (network namespaces): Redis primary, replica and
// Sentinels on R1-R3, alert-services on A1-A2, workers on W1-W2, the api-service on P1, all over
// TCP with mutual TLS — then a machine is lost and the network is split, and nothing accepted is lost or done twice.

import Foundation
import MeshTestSupport
import Testing

/// The mesh on a `NetworkLab`, with what a test asks of it.
final class LabMesh: @unchecked Sendable {
    let lab: NetworkLab
    let dir: String
    let redisHosts = ["R1", "R2", "R3"]
    var reports: String { dir + "/reports" }
    var sentinelURL: String {
        "sentinel://" + redisHosts.map { "\(lab.address($0)):26379" }.joined(separator: ",") + "/alertmesh"
    }
    var api: String { "http://\(lab.address("P1")):8080" }
    static let leaseMs = 10_000
    /// The mesh CA and a certificate per role (scripts/make-certs): every RPC link is TLS.
    let certs: TestCertificates

    init() throws {
        let dir = NSTemporaryDirectory() + "alertmesh-lab-\(UUID().uuidString.prefix(8))"
        self.dir = dir
        try FileManager.default.createDirectory(atPath: dir + "/reports", withIntermediateDirectories: true)
        certs = try TestCertificates.make(in: dir + "/tls")
        lab = try NetworkLab(hosts: ["R1", "R2", "R3", "A1", "A2", "W1", "W2", "P1"])
        do {
            try startRedis()
            for a in ["A1", "A2"] { try startAlertService(a) }
            for w in ["W1", "W2"] { try startWorker(w) }
            try lab.start(
                "P1", builtBinary("api-service").path,
                [
                    "--http", "\(lab.address("P1")):8080", "--redis", sentinelURL, "--redis-timeout-ms", "1000",
                    "--data-dir", dir + "/P1", "--log-level", "info",
                ], log: dir + "/P1.out")
            try waitFor("the api-service ready", seconds: 60) { self.httpStatus("GET", "/readyz") == 200 }
        } catch {
            stop()
            throw error
        }
    }

    private func startRedis() throws {
        let config = repositoryRoot.appendingPathComponent("compose/redis/redis.conf").path
        for (i, host) in ["R1", "R2"].enumerated() {
            let d = dir + "/" + host
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: config, toPath: d + "/redis.conf")
            var args = [
                d + "/redis.conf", "--port", "6379", "--bind", lab.address(host), "--dir", d, "--daemonize", "no",
                "--logfile", d + "/redis.log", "--min-replicas-to-write", "1", "--min-replicas-max-lag", "5",
                // The lab's namespaces reach nothing else; passwords and ACLs are another test's.
                "--protected-mode", "no",
            ]
            if i == 1 { args += ["--replicaof", lab.address("R1"), "6379"] }
            try lab.start(host, "/usr/bin/redis-server", args, log: d + "/redis.out")
        }
        for host in redisHosts {
            let d = dir + "/" + host + "-sentinel"
            try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
            try """
            port 26379
            bind \(lab.address(host))
            daemonize no
            protected-mode no
            dir \(d)
            logfile \(d)/sentinel.log
            sentinel monitor alertmesh \(lab.address("R1")) 6379 2
            sentinel down-after-milliseconds alertmesh 2000
            sentinel failover-timeout alertmesh 10000
            sentinel parallel-syncs alertmesh 1

            """.write(toFile: d + "/sentinel.conf", atomically: true, encoding: .utf8)
            try lab.start(host, "/usr/bin/redis-sentinel", [d + "/sentinel.conf"], log: d + "/sentinel.out")
        }
        try waitFor("the Sentinels to know each other and the replica", seconds: 60) {
            self.redisHosts.allSatisfy { host in
                RedisHA.isReady(
                    sentinelMaster: self.lab.run(
                        host, "/usr/bin/redis-cli",
                        ["-h", self.lab.address(host), "-p", "26379", "SENTINEL", "master", "alertmesh"]
                    ).stdout)
            }
        }
    }

    func startAlertService(_ host: String) throws {
        try lab.start(
            host, builtBinary("alert-service").path,
            [
                "--listen", "tcp://\(lab.address(host)):7000", "--data-dir", dir + "/" + host, "--reports-dir", reports,
                "--log-level", "info",
            ] + certs.files("alert-service").arguments, log: dir + "/\(host).out")
        try waitFor("alert-service on \(host)") {
            self.lab.run(
                host, builtBinary("rpc-probe").path,
                ["tcp://\(self.lab.address(host)):7000", "health"] + self.certs.files("operator").arguments
            ).status == 0
        }
    }

    func startWorker(_ host: String) throws {
        try lab.start(
            host, builtBinary("worker").path,
            [
                "--redis", sentinelURL, "--alert-endpoint", "tcp://\(lab.address("A1")):7000", "--alert-endpoint",
                "tcp://\(lab.address("A2")):7000", "--listen", "tcp://\(lab.address(host)):7100", "--data-dir",
                dir + "/" + host, "--lease-ms", String(Self.leaseMs), "--reclaim-interval-ms", "1000",
                "--attempt-timeout-ms", "5000", "--log-level", "info",
            ] + certs.files("worker").arguments, log: dir + "/\(host).out")
    }

    func waitFor(_ what: String, seconds: Double = 30, _ condition: () -> Bool) throws {
        if poll(seconds: seconds, everyMs: 100, until: condition) { return }
        throw MeshError("timed out waiting for \(what)")
    }

    func httpStatus(_ method: String, _ path: String) -> Int {
        Int(
            lab.run("P1", "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method, api + path])
                .stdout) ?? 0
    }

    /// Submits `count` tasks from P1, one after another, in the background: `collect()` waits for
    /// the end and returns the ids that got 202 and the number of 503s.
    func submitInBackground(_ count: Int, tag: String) throws -> () throws -> (
        accepted: [String], refused: Int, said: Set<String>
    ) {
        let out = dir + "/submit-\(tag).out"
        let script = """
            for i in $(seq \(count)); do
              curl -s -m 10 -w ' %{http_code}\\n' -H 'Content-Type: application/json' \
                -d "{\\"message\\": \\"\(tag) $i: password=hunter$i and mail a$i@b.io\\"}" \(api)/submit
              sleep 0.02
            done
            """
        let p = try lab.start("P1", "/bin/sh", ["-c", script], log: out)
        return {
            p.waitUntilExit()
            var accepted: [String] = []
            var refused = 0
            var said: Set<String> = []
            for line in try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n") {
                if line.hasSuffix(" 202"), let r = line.range(of: #""task_id":""#) {
                    accepted.append(String(line[r.upperBound...].prefix { $0 != "\"" }))
                } else if line.hasSuffix(" 503") {
                    refused += 1
                    // What a refused client read, its task ids and figures blanked out.
                    if let r = line.range(of: #""detail":""#) {
                        let detail = line[r.upperBound...].prefix { $0 != "\"" }
                        said.insert(String(detail.prefix(70)))
                    }
                } else {
                    throw MeshError("a submit answered neither 202 nor 503: \(line)")
                }
            }
            return (accepted, refused, said)
        }
    }

    /// A figure of the worker on `host` (`rpc-probe … stats`, from inside its namespace).
    func workerFigure(_ host: String, _ name: String) -> Double? {
        MeshProcesses.figure(
            name,
            inStats: lab.run(
                host, builtBinary("rpc-probe").path,
                ["tcp://\(lab.address(host)):7100", "stats", "--json"] + certs.files("operator").arguments
            )
            .stdout)
    }

    /// The address of the primary the Sentinels name now.
    func primary() -> String? {
        for host in redisHosts {
            let lines = lab.run(
                host, "/usr/bin/redis-cli",
                ["-h", lab.address(host), "-p", "26379", "SENTINEL", "get-master-addr-by-name", "alertmesh"]
            ).stdout.split(separator: "\n")
            if lines.count == 2 { return String(lines[0]) }
        }
        return nil
    }

    func hostOf(_ address: String) -> String { lab.hosts.first { lab.address($0) == address } ?? "R1" }

    /// `redis-cli` against the primary.
    func redis(_ args: [String]) -> String {
        let address = primary() ?? lab.address("R1")
        return lab.run(hostOf(address), "/usr/bin/redis-cli", ["-h", address, "-p", "6379"] + args).stdout
    }

    /// Each task's state and attempts, read from Redis in one script call.
    func states(_ ids: [String]) -> [String: (state: String, attempts: Int)] {
        var out: [String: (String, Int)] = [:]
        for chunk in stride(from: 0, to: ids.count, by: 200).map({ Array(ids[$0..<min($0 + 200, ids.count)]) }) {
            let script =
                "local r = {} for i, k in ipairs(KEYS) do local f = redis.call('HMGET', k, 'state', 'attempts') "
                + "r[i] = (f[1] or 'MISSING') .. ' ' .. (f[2] or '0') end return r"
            let lines = redis(["EVAL", script, String(chunk.count)] + chunk.map { "{alertmesh}:task:" + $0 })
                .split(separator: "\n")
            for (id, line) in zip(chunk, lines) {
                let parts = line.split(separator: " ")
                out[id] = (String(parts.first ?? "?"), Int(parts.last ?? "0") ?? 0)
            }
        }
        return out
    }

    /// Waits until every task is SUCCESS; returns how long that took.
    @discardableResult
    func waitAllSucceeded(_ ids: [String], seconds: Double = 120) throws -> Double {
        let start = Date()
        do {
            try waitFor("\(ids.count) tasks to succeed", seconds: seconds) {
                self.states(ids).values.allSatisfy { $0.state == "SUCCESS" }
            }
        } catch {
            let stuck = states(ids).filter { $0.value.state != "SUCCESS" }.prefix(5)
            throw MeshError("not done: \(stuck.map { "\($0.key): \($0.value)" }); logs:\n\(logs())")
        }
        return Date().timeIntervalSince(start)
    }

    /// Reports written, and runs that found their task's report already written (link-once).
    func reportCounts() -> (files: Set<String>, existed: Int) {
        let files = Set(
            ((try? FileManager.default.contentsOfDirectory(atPath: reports)) ?? []).filter { $0.hasSuffix(".txt") })
        var existed = 0
        for a in ["A1", "A2"] {
            let log = (try? String(contentsOfFile: dir + "/\(a)/logs/alert-service.log", encoding: .utf8)) ?? ""
            existed += log.split(separator: "\n").filter { $0.contains("report=existed") }.count
        }
        return (files, existed)
    }

    func logs() -> String {
        ["W1", "W2", "P1"].map { h in
            "== \(h)\n" + String(((try? String(contentsOfFile: dir + "/\(h).out", encoding: .utf8)) ?? "").suffix(1500))
        }.joined(separator: "\n")
    }

    func stop() {
        lab.stop()
        try? FileManager.default.removeItem(atPath: dir)
    }
}

@Suite(.serialized) final class ManyHostsTests {
    /// Re-runs counted before the current scenario.
    var existedBefore = 0

    /// Checks the end state of `accepted`: every one SUCCESS, with its report, and the counters
    /// count each success once.
    func expectDone(_ mesh: LabMesh, _ accepted: [String], _ what: String) throws {
        let took = try mesh.waitAllSucceeded(accepted)
        let (files, existedSoFar) = mesh.reportCounts()
        let existed = existedSoFar - existedBefore
        existedBefore = existedSoFar
        let missing = accepted.filter { !files.contains("\($0).txt") }
        #expect(missing.isEmpty, "\(what): \(missing.count) tasks without a report")
        print(
            "\(what): \(accepted.count) accepted, all SUCCESS \(String(format: "%.1f", took)) s after the check began; \(existed) runs found their report already written (link-once)"
        )
    }

    @Test func machineLossAndPartitionsLoseNothingAndDoNothingTwice() throws {
        if let why = NetworkLab.unavailable() {
            print("skipped: \(why)")
            return
        }
        let mesh = try LabMesh()
        defer { mesh.stop() }
        var all: [String] = []

        // 1. Machine loss: every process of W1 killed at once, with tasks in flight; W2 takes
        //    them over once their lease runs out.
        do {
            let collect = try mesh.submitInBackground(150, tag: "loss")
            usleep(1_000_000)
            // The alert-services stall for a moment, so both workers hold tasks when W1 goes.
            mesh.lab.signal(SIGSTOP, on: ["A1", "A2"])
            usleep(500_000)
            let killedAt = Date()
            mesh.lab.killAll(on: "W1")
            mesh.lab.signal(SIGCONT, on: ["A1", "A2"])
            let (accepted, refused, _) = try collect()
            #expect(refused == 0, "nothing refused a submit")
            try expectDone(mesh, accepted, "machine loss")
            print(
                "machine loss: the last of W1's tasks done \(String(format: "%.1f", Date().timeIntervalSince(killedAt))) s after the kill (lease \(LabMesh.leaseMs) ms)"
            )
            all += accepted
            try mesh.startWorker("W1")
        }

        // 2. W1 cut off from Redis (not from the alert-services) for longer than the lease: W2
        //    reclaims its tasks; when the link heals, W1's late results change nothing.
        do {
            let collect = try mesh.submitInBackground(150, tag: "split-worker")
            usleep(1_000_000)
            // W1 holds tasks whose Analyze calls are under way when the cut comes; they finish
            // (A1 and A2 are still reachable), and their results cannot be stored.
            mesh.lab.signal(SIGSTOP, on: ["A1", "A2"])
            usleep(500_000)
            try mesh.lab.partition(["W1"], mesh.redisHosts)
            mesh.lab.signal(SIGCONT, on: ["A1", "A2"])
            // 90 s: nine leases. W2 reclaims W1's tasks after the first.
            usleep(90_000_000)
            try mesh.lab.heal(["W1"], mesh.redisHosts)
            let (accepted, refused, _) = try collect()
            #expect(refused == 0)
            try expectDone(mesh, accepted, "worker-redis partition")
            // W1, back: what became of the results it could not store.
            try mesh.waitFor("W1 back on Redis", seconds: 30) { mesh.workerFigure("W1", "redis_connected") == 1 }
            let w1 = ["tasks_succeeded_total", "tasks_skipped_total", "leases_lost_total", "redis_problems_total"]
                .map { "\($0)=\(Int(mesh.workerFigure("W1", $0) ?? -1))" }
            print("worker-redis partition: W1 after the heal: \(w1.joined(separator: " "))")
            all += accepted
        }

        // 3. Both workers cut off from A1: calls go to A2.
        do {
            try mesh.lab.partition(["W1", "W2"], ["A1"])
            let collect = try mesh.submitInBackground(100, tag: "split-alert")
            let (accepted, refused, _) = try collect()
            #expect(refused == 0)
            try expectDone(mesh, accepted, "worker-alert partition")
            let attempts = mesh.states(accepted).values.map(\.attempts)
            print(
                "worker-alert partition: attempts per task \(Dictionary(grouping: attempts) { $0 }.mapValues(\.count))")
            // A call whose deadline passes with A1 silent makes the worker PING it and reset the
            // connection; requests A1's machine never acknowledged did not run: no attempt counted.
            #expect(attempts.allSatisfy { $0 == 1 }, "an unreachable alert-service costs no attempt")
            #expect(mesh.states(accepted).values.allSatisfy { $0.attempts <= 5 }, "none ran out of attempts")
            try mesh.lab.heal(["W1", "W2"], ["A1"])
            all += accepted
        }

        // 4. Split brain: the primary (R1, with its Sentinel) and the api-service (P1) cut off
        //    from the rest. The majority's Sentinels promote R2; the primary alone must not
        //    acknowledge a submit (WAIT finds no replica, then min-replicas-to-write refuses).
        do {
            let oldPrimary = try #require(mesh.primary())
            let minority = [mesh.hostOf(oldPrimary), "P1"]
            let majority = mesh.lab.hosts.filter { !minority.contains($0) }
            try mesh.lab.partition(minority, majority)
            let collect = try mesh.submitInBackground(200, tag: "split-brain")
            try mesh.waitFor("the majority to promote a new primary", seconds: 90) {
                let named = mesh.lab.run(
                    "R3", "/usr/bin/redis-cli",
                    ["-h", mesh.lab.address("R3"), "-p", "26379", "SENTINEL", "get-master-addr-by-name", "alertmesh"]
                ).stdout.split(separator: "\n").first.map(String.init)
                return named != nil && named != oldPrimary
            }
            usleep(3_000_000)
            try mesh.lab.heal(minority, majority)
            let (accepted, refused, said) = try collect()
            print("split brain: \(accepted.count) accepted, \(refused) refused (503); the client read:")
            for line in said.sorted() { print("  503: \(line.prefix(200))") }
            try mesh.waitFor("the old primary to become a replica", seconds: 90) {
                mesh.lab.run(mesh.hostOf(oldPrimary), "/usr/bin/redis-cli", ["-h", oldPrimary, "-p", "6379", "ROLE"])
                    .stdout.hasPrefix("slave")
            }
            try expectDone(mesh, accepted, "split brain")
            all += accepted
        }

        // Across everything: every task accepted is SUCCESS, once.
        #expect(Set(all).count == all.count)
        try mesh.waitAllSucceeded(all)
        let succeeded =
            Int(
                mesh.redis(["HGET", "{alertmesh}:counters", "succeeded"]).trimmingCharacters(
                    in: .whitespacesAndNewlines)) ?? -1
        #expect(succeeded >= all.count)
    }
}
