// SheddingTests: a flood meets 429s before Redis runs out of memory, and every task that got a
// 202 still runs — real redis-server with a small maxmemory, real services.

import Foundation
import MeshTestSupport
import Testing

@Suite struct SheddingTests {
    @Test func aFloodIsShedBeforeRedisRunsOutOfMemoryAndEveryAcceptedTaskRuns() throws {
        let mesh = try MeshProcesses(redisOverrides: ["--maxmemory", "24mb"])
        defer { mesh.stop() }
        try mesh.startAlertService()
        try mesh.startAPI()
        // No worker yet: everything accepted waits in Redis.
        let body = String(
            decoding: try JSONSerialization.data(withJSONObject: [
                "message": "password=x " + String(repeating: "lorem ipsum ", count: 340)
            ]), as: UTF8.self)
        var accepted: [String] = []
        var statuses: [Int: Int] = [:]
        var withoutRetryAfter = 0
        let deadline = Date().addingTimeInterval(120)
        while (statuses[429] ?? 0) < 200 && Date() < deadline {
            let r = mesh.request("POST", "/submit", body: body)
            statuses[r.status, default: 0] += 1
            if r.status == 202, let id = r.json["task_id"] as? String { accepted.append(id) }
            if r.status == 429 || r.status == 503, r.headers["retry-after"] == nil { withoutRetryAfter += 1 }
        }
        #expect((statuses[429] ?? 0) >= 200, "\(statuses)")
        #expect(Set(statuses.keys).isSubset(of: [202, 429, 503]), "no other answer: \(statuses)")
        #expect(withoutRetryAfter == 0)
        #expect(accepted.count > 500, "\(statuses)")
        #expect(mesh.redisCLI(["PING"]) == "PONG", "redis-server is alive")

        // Why is visible: /readyz (still 200: status reads are served) and /metrics.
        let ready = mesh.request("GET", "/readyz")
        #expect(ready.status == 200 && ready.json["accepting"] as? Bool == false)
        #expect((ready.json["shed_reason"] as? String)?.isEmpty == false, "\(ready.json)")
        let metrics = mesh.requestText("GET", "/metrics")
        let shed = metrics.split(separator: "\n").filter { $0.hasPrefix("alertmesh_submits_shed_total{") }
            .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
        #expect(shed >= 200, "\(metrics)")
        #expect(metrics.contains("\nalertmesh_shedding 1\n"))

        // Workers drain the backlog; every 202 becomes SUCCESS; submits are taken again.
        try mesh.startWorker()
        try mesh.startWorker()
        try mesh.waitFor("every accepted task to succeed", seconds: 120) {
            mesh.redisCLI(["HGET", "{alertmesh}:counters", "succeeded"]) == String(accepted.count)
        }
        for id in accepted.shuffled().prefix(50) { #expect(mesh.state(id) == "SUCCESS") }
        #expect(mesh.redisCLI(["HGET", "{alertmesh}:counters", "failed"]).isEmpty)
        try mesh.waitFor("submits accepted again") { mesh.request("POST", "/submit", body: body).status == 202 }
        #expect(mesh.request("GET", "/readyz").json["accepting"] as? Bool == true)
        #expect(mesh.redisCLI(["PING"]) == "PONG")
    }

    @Test func anExplicitBacklogLimitShedsPastItAndRecoversWhenWorkersCatchUp() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        try mesh.startAlertService()
        try mesh.startAPI(["--max-backlog", "40"])
        var accepted: [String] = []
        var shed = 0
        for i in 0..<60 {
            let r = mesh.request("POST", "/submit", body: #"{"message": "task \#(i)"}"#)
            if r.status == 202, let id = r.json["task_id"] as? String { accepted.append(id) }
            if r.status == 429 {
                shed += 1
                #expect(r.headers["retry-after"] != nil)
                #expect(r.json["error"] as? String == "too many requests")
                #expect((r.json["detail"] as? String)?.contains("backlog of 40 tasks at its limit of 40") == true)
            }
        }
        #expect(accepted.count == 40 && shed == 20, "counted at once, between Redis reads")
        #expect(mesh.requestText("GET", "/metrics").contains(#"alertmesh_submits_shed_total{reason="backlog"} 20"#))
        try mesh.startWorker()
        try mesh.waitFor("the backlog to drain") { accepted.allSatisfy { mesh.state($0) == "SUCCESS" } }
        try mesh.waitFor("submits accepted again") {
            mesh.request("POST", "/submit", body: #"{"message": "again"}"#).status == 202
        }
    }
}
