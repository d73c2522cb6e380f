// FailoverTests: the whole mesh on a Redis primary, replica and three Sentinels, all with the
// shipped users (the default user off); the primary is killed under load and every task that got
// 202 still ends SUCCESS, once — and no server or Sentinel refused anyone a command on the way.

import Foundation
import MeshTestSupport
import Testing

@Suite(.serialized) struct FailoverTests {
    @Test func thePrimaryKilledUnderLoadLosesNoAcceptedTask() throws {
        let mesh = try MeshProcesses(highlyAvailable: true, acl: true)
        defer { mesh.stop() }
        let ha = try #require(mesh.ha)
        try ha.waitUntilReady()
        try mesh.startAlertService()
        try mesh.startWorker(["--lease-ms", "10000"])
        try mesh.startWorker(["--lease-ms", "10000"])
        try mesh.startAPI(["--redis-timeout-ms", "1000"])

        // Clients submit without pause; each answer is 202 or 503 with Retry-After, and the
        // times of the 503s mark the window in which submits were refused.
        let stopFlag = StopFlag()
        let clients = mesh.submitters(3, until: stopFlag, pauseAfterRefusalUs: 50_000) { n, i in
            "client \(n) task \(i): password=hunter\(i)"
        }
        usleep(1_500_000)
        let killedAt = Date()
        ha.servers[0].kill()
        // Sentinel promotes the replica; the old primary comes back and is made its replica.
        try mesh.waitFor("Sentinel to promote the replica", seconds: 90, sentinels: ha) {
            ha.primaryPort() == ha.servers[1].port
        }
        let promotedAt = Date()
        try ha.servers[0].restart()
        try mesh.waitFor("the old primary to return as a replica", seconds: 90, sentinels: ha) {
            ha.role(ha.servers[0]) == "slave"
        }
        let rejoinedAt = Date()
        try mesh.waitFor("api-service ready again", seconds: 60) { mesh.request("GET", "/readyz").status == 200 }
        let readyAt = Date()
        usleep(1_500_000)
        stopFlag.set()
        try mesh.waitFor("clients done") { clients.allSatisfy(\.isDone) }

        let accepted = clients.flatMap(\.result.accepted)
        let refusedAt = clients.flatMap(\.result.refusedAt).sorted()
        #expect(clients.allSatisfy { $0.result.wrong.isEmpty }, "only 202 or 503: \(clients.flatMap(\.result.wrong))")
        #expect(Set(accepted).count == accepted.count)
        #expect(accepted.count > 50)
        if let first = refusedAt.first, let last = refusedAt.last {
            // Refusals only in the failover window: from the kill until the mesh was whole again.
            #expect(first >= killedAt.addingTimeInterval(-0.5), "a 503 before the kill")
            #expect(last <= readyAt.addingTimeInterval(1), "a 503 after the mesh was whole again")
            print(
                String(
                    format: "sentinel failover: after the kill, promoted at %.1f s, old primary a replica at %.1f s, "
                        + "ready at %.1f s; submits refused for %.1f s (%d 503s); %d accepted",
                    promotedAt.timeIntervalSince(killedAt), rejoinedAt.timeIntervalSince(killedAt),
                    readyAt.timeIntervalSince(killedAt), last.timeIntervalSince(first), refusedAt.count, accepted.count)
            )
        }
        do {
            try mesh.waitFor("every accepted task done", seconds: 120) {
                accepted.allSatisfy { mesh.state($0) == "SUCCESS" }
            }
        } catch {
            let stuck = accepted.filter { mesh.state($0) != "SUCCESS" }.prefix(5)
            Issue.record("\(stuck.count) accepted tasks not done: \(stuck.map { "\($0): \(mesh.status($0))" })")
            throw error
        }
        // The replica user kept replicating, the Sentinel user failed over and reconfigured the
        // old primary, the Sentinels voted, the services asked and listened: none was refused.
        #expect(ha.aclDenials().isEmpty, "refused: \(ha.aclDenials())")
        // One report per task: a task run again after the failover found its report written
        // (link-once) and left it; the counters say each success was stored once.
        let reports = Set(mesh.reports())
        #expect(reports.isSuperset(of: accepted.map { "\($0).txt" }))
        let log = (try? String(contentsOfFile: mesh.dir + "/logs/alert-service.log", encoding: .utf8)) ?? ""
        let rerun = log.split(separator: "\n").filter { $0.contains("report=existed") }.count
        print(
            "sentinel failover: \(reports.count) reports for \(accepted.count) accepted tasks; \(rerun) runs found their report already written"
        )
    }
}

extension MeshProcesses {
    /// `waitFor`, with the Sentinels' logs in the failure: a Sentinel whose timer ran late (a busy
    /// machine) enters TILT mode and does nothing for 30 s, which the logs say.
    func waitFor(_ what: String, seconds: Double, sentinels ha: RedisHA, _ condition: () -> Bool) throws {
        do {
            try waitFor(what, seconds: seconds, condition)
        } catch {
            let logs = ha.sentinels.enumerated().map { "== sentinel \($0.offset)\n\($0.element.log.suffix(1500))" }
            throw MeshError("\(error)\n\(logs.joined(separator: "\n"))")
        }
    }
}
