// OutageTests: a dependency's outage costs no task an attempt; a task that really fails still
// ends in the dead letters — real processes, real faults (SIGKILL, a full disk).

import Foundation
import MeshTestSupport
import Testing

/// Submits `perSecond` tasks a second from a thread of its own until stopped; keeps the ids of
/// those accepted (202) and counts the rest.
final class Submitter: @unchecked Sendable {
    private let lock = NSLock()
    private var accepted: [String] = []
    private var refused = 0
    private let stopFlag = ThreadFlag()
    private let done = ThreadFlag()

    init(_ mesh: MeshProcesses, perSecond: Double, message: @escaping @Sendable (Int) -> String) {
        let gap = 1 / perSecond
        Thread.detachNewThread { [self] in
            let start = Date()
            var n = 0
            while !stopFlag.isSet {
                let id = mesh.submit(message(n))
                lock.withLock { if let id { accepted.append(id) } else { refused += 1 } }
                n += 1
                let next = start.addingTimeInterval(Double(n) * gap).timeIntervalSinceNow
                if next > 0 { usleep(useconds_t(next * 1e6)) }
            }
            done.set()
        }
    }

    func stop() -> (accepted: [String], refused: Int) {
        stopFlag.set()
        done.wait()
        return lock.withLock { (accepted, refused) }
    }
}

@Suite struct OutageTests {
    /// The issue's acceptance test: every alert-service SIGKILLed for 60 s under ~100 submits a second.
    @Test func aMinuteWithoutAnyAlertServiceCostsNoTaskAnAttempt() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        let workerSocket = "unix:" + mesh.dir + "/worker.sock"
        try mesh.startAlertService()
        try mesh.startWorker(["--listen", workerSocket])
        try mesh.startAPI()
        let submitter = Submitter(mesh, perSecond: 100) { "task \($0): password=hunter\($0)" }
        sleep(2)
        mesh.stopAlertService()  // SIGKILL
        let killedAt = Date()

        // The worker stops taking work and says why; nothing fails meanwhile.
        try mesh.waitFor("the worker to pause") { mesh.figure(workerSocket, "worker_paused") == 1 }
        var health = ""
        try mesh.waitFor("health to say NOT_SERVING") {
            let r = mesh.probe(workerSocket, ["health"])
            health = r.stdout
            return r.status == 1
        }
        #expect(health.contains("NOT_SERVING: no alert-service can take a call"), "\(health)")
        sleep(5)
        #expect(mesh.redisCLI(["HGET", "{alertmesh}:counters", "failed"]).isEmpty)
        let waiting = mesh.redisCLI(["XLEN", "{alertmesh}:tasks"])
        #expect((Int(waiting) ?? 0) > 300, "submits go on and wait in the stream (\(waiting))")

        usleep(useconds_t(max(0, 60 - Date().timeIntervalSince(killedAt)) * 1e6))
        try mesh.startAlertService()
        let back = Date()
        sleep(2)
        let (ids, refused) = submitter.stop()
        #expect(refused == 0, "the API accepts throughout")
        try mesh.waitFor("every task to succeed", seconds: 30) {
            mesh.redisCLI(["HGET", "{alertmesh}:counters", "succeeded"]) == String(ids.count)
        }
        let took = Date().timeIntervalSince(back)
        #expect(took < 30, "all done \(took) s after the service returned")
        #expect(mesh.figure(workerSocket, "worker_paused") == 0)
        #expect((mesh.figure(workerSocket, "worker_paused_seconds_total") ?? 0) >= 55)

        // Every task SUCCESS, none failed or dead-lettered, one report each (every message has a hit).
        #expect(mesh.redisCLI(["HGET", "{alertmesh}:counters", "failed"]).isEmpty)
        #expect(mesh.redisCLI(["XLEN", "{alertmesh}:dead"]) == "0")
        #expect(mesh.reports() == ids.map { "\($0).txt" }.sorted())
        var notDone: [String] = []
        var maxAttempts = 0
        for id in ids {
            let s = mesh.status(id)
            if s["state"] as? String != "SUCCESS" { notDone.append(id) }
            maxAttempts = max(maxAttempts, s["attempts"] as? Int ?? 0)
        }
        #expect(notDone.isEmpty)
        // Only an attempt the SIGKILL cut mid-call counts: at most a second one.
        #expect(maxAttempts <= 2)

        // The outage is in the worker's log once on the way in and once on the way out.
        let log = try String(contentsOfFile: mesh.dir + "/logs/worker.log", encoding: .utf8)
        let lines = log.split(separator: "\n").filter {
            !$0.contains("task succeeded") && !$0.contains("worker ready")
        }
        #expect(lines.count <= 4, "\(lines.joined(separator: "\n"))")
        #expect(lines.contains { $0.contains("alert-service outage:") })
        #expect(lines.contains { $0.contains("alert-service outage over") })
    }

    /// A task that really fails (every report write hits a full disk) spends its attempts, with
    /// growing waits, and ends in the dead letters — where an operator sees it, masked, and
    /// re-drives it once the disk has room.
    @Test func aTaskThatReallyFailsIsDeadLetteredThenRedriven() throws {
        guard let disk = FullDisk() else { return }  // not root: cannot mount a full disk
        defer { disk.remove() }
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        let workerSocket = "unix:" + mesh.dir + "/worker.sock"
        try mesh.startAlertService(["--reports-dir", disk.path])
        try mesh.startWorker([
            "--listen", workerSocket, "--retry-base-ms", "1000", "--retry-multiplier", "2", "--retry-max-ms", "2000",
            "--max-attempts", "3",
        ])
        try mesh.startAPI()
        let message = "card 4111 1111 1111 1111, password=hunter2, mail jane.doe@example.com"
        let id = try #require(mesh.submit(message))
        // While it waits between attempts, /status says why and until when.
        var waiting: [String: Any] = [:]
        try mesh.waitFor("a retry to wait for") {
            waiting = mesh.status(id)
            return waiting["state"] as? String == "RETRY"
        }
        #expect((waiting["last_error"] as? String)?.contains("cannot write report") == true, "\(waiting)")
        #expect(waiting["retry_at"] is String && waiting["error"] == nil)
        try mesh.waitFor("FAILURE", seconds: 30) { mesh.state(id) == "FAILURE" }
        let failed = mesh.status(id)
        #expect(failed["attempts"] as? Int == 3)
        let error = failed["error"] as? String ?? ""
        #expect(error.contains("gave up after 3 attempts") && error.contains("cannot write report"), "\(error)")
        #expect(mesh.redisCLI(["XLEN", "{alertmesh}:dead"]) == "1")
        #expect(mesh.figure(workerSocket, "worker_paused_seconds_total") == 0, "a live service failing is no outage")
        // The waits grew: each retry's delay stays under its attempt's ceiling (full jitter).
        let log = try String(contentsOfFile: mesh.dir + "/logs/worker.log", encoding: .utf8)
        let delays = log.split(separator: "\n").filter { $0.contains("task_id=\(id)") && $0.contains("delay_ms=") }
            .compactMap { line -> (Int, Int)? in
                guard let a = line.firstMatch(of: /attempt=(\d+)/), let d = line.firstMatch(of: /delay_ms=(\d+)/) else {
                    return nil
                }
                return (Int(a.1)!, Int(d.1)!)
            }
        #expect(delays.count == 2)
        for (attempt, delay) in delays { #expect(delay <= min(2000, 1000 << (attempt - 1))) }

        // List: the task, its attempts and error, its message masked.
        let listed = mesh.probe(workerSocket, ["call", "List", "-d", "{}"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let page = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])
        let letters = page["deadLetters"] as? [[String: Any]] ?? []
        #expect(letters.count == 1 && letters.first?["taskId"] as? String == id, "\(listed.stdout)")
        #expect(letters.first?["attempts"] as? Int == 3)
        #expect((letters.first?["lastError"] as? String)?.contains("cannot write report") == true)
        let shown = letters.first?["message"] as? String ?? ""
        for secret in ["4111 1111 1111 1111", "hunter2", "jane.doe"] {
            #expect(!listed.stdout.contains(secret), "\(secret) in clear: \(shown)")
        }
        #expect(shown.contains("1111") && shown.contains("@example.com"), "masked, still recognisable: \(shown)")

        // Fix the cause, re-drive: PENDING with attempts reset, then SUCCESS with one report.
        disk.free()
        let redriven = mesh.probe(workerSocket, ["call", "Redrive", "-d", #"{"all": true}"#])
        #expect(redriven.status == 0 && redriven.stdout.contains(id), "\(redriven.stdout) \(redriven.stderr)")
        try mesh.waitFor("SUCCESS after the re-drive", seconds: 20) { mesh.state(id) == "SUCCESS" }
        #expect(mesh.status(id)["attempts"] as? Int == 1, "attempts start again from zero")
        #expect(mesh.redisCLI(["XLEN", "{alertmesh}:dead"]) == "0")
        #expect(FileManager.default.fileExists(atPath: disk.path + "/\(id).txt"))
        // Again: harmless, and refused with why.
        let again = mesh.probe(workerSocket, ["call", "Redrive", "-d", "{\"task_ids\": [\"\(id)\"]}"])
        #expect(again.status == 0 && again.stdout.contains("already succeeded"), "\(again.stdout)")
        let nothing = mesh.probe(workerSocket, ["call", "Redrive", "-d", #"{"all": true}"#])
        #expect(nothing.status == 0 && !nothing.stdout.contains(id), "\(nothing.stdout)")
        let bad = mesh.probe(workerSocket, ["call", "Redrive", "-d", #"{"all": true, "oldest": 3}"#])
        #expect(bad.status != 0 && (bad.stdout + bad.stderr).contains("exactly one of"), "\(bad.stderr)")
        // Garbage gets a clear error, and the worker goes on serving.
        for (request, error) in [
            (#"{"before": "yesterday"}"#, "before: an entry id"), (#"{"limit": 5000}"#, "limit: at most 1000"),
        ] {
            let r = mesh.probe(workerSocket, ["call", "List", "-d", request])
            #expect(r.status != 0 && (r.stdout + r.stderr).contains(error), "\(request): \(r.stderr)")
        }
        #expect(mesh.probe(workerSocket, ["call", "List", "-d", "{}"]).status == 0)
        #expect(mesh.state(id) == "SUCCESS")
    }
}
