// PipelineTests: curl's view of the whole mesh — submit, analyse, recover from every crash.

import Foundation
import MeshTestSupport
import Testing

@Suite(.serialized) struct PipelineTests {
    @Test func theOldSystemsExampleEndToEnd() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        try mesh.startAlertService()
        try mesh.startWorker()
        try mesh.startAPI()
        let id = try #require(mesh.submit("my secret email is test@mail.com and my card is 1234567890123456"))
        try mesh.waitFor("SUCCESS") { mesh.state(id) == "SUCCESS" }
        let status = mesh.status(id)
        let result = try #require(status["result"] as? [String: Any])
        #expect(result["alerts"] as? [String] == ["card_number_detected", "email_detected", "personal_data"])
        #expect(result["status"] as? String == "processed")
        #expect(status["attempts"] as? Int == 1)
        let findings = try #require(result["findings"] as? [[String: Any]])
        let masked = findings.compactMap { $0["masked"] as? String }
        #expect(!masked.contains { $0.contains("test@mail.com") || $0.contains("1234567890123456") })
        #expect(mesh.reports() == ["\(id).txt"], "exactly one report")
        let report = try String(contentsOfFile: mesh.reportsDir + "/\(id).txt", encoding: .utf8)
        #expect(!report.contains("test@mail.com") && !report.contains("1234567890123456"))
        // Every service has logged the task (files are written in batches), and nowhere in clear.
        try mesh.waitFor("the task in every service's log") {
            let dir = mesh.dir + "/logs/"
            return ["api-service", "worker", "alert-service"].allSatisfy {
                ((try? String(contentsOfFile: dir + $0 + ".log", encoding: .utf8)) ?? "").contains(id)
            }
        }
        let logs = mesh.logs(tail: Int.max)
        #expect(!logs.contains("test@mail.com") && !logs.contains("1234567890123456"), "no raw secret in any log")
    }

    @Test func metricsCarryTheWholeMesh() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        try mesh.startAlertService()
        try mesh.startWorker(["--listen", "unix:" + mesh.dir + "/worker.sock"])
        try mesh.startAPI(["--scrape", "unix:" + mesh.alertSocket, "--scrape", "unix:" + mesh.dir + "/worker.sock"])
        let id = try #require(mesh.submit("my password is swordfish"))
        try mesh.waitFor("SUCCESS") { mesh.state(id) == "SUCCESS" }
        let alert = "instance=\"unix:\(mesh.alertSocket)\",service=\"alert-service\""
        let worker = "instance=\"unix:\(mesh.dir)/worker.sock\",service=\"worker\""
        // The services' answers are shared for 0.9 s: the success shows within a second or so.
        var text = ""
        try mesh.waitFor("/metrics to show the success") {
            text = mesh.requestText("GET", "/metrics")
            return text.contains("alertmesh_tasks_succeeded_total{\(worker)} 1")
        }
        #expect(text.contains("alertmesh_up{\(alert)} 1"))
        #expect(text.contains("alertmesh_up{\(worker)} 1"))
        #expect(text.contains("alertmesh_tasks_succeeded_total{\(worker)} 1"))
        #expect(
            text.contains(
                "alertmesh_rpc_calls_total{\(alert),method=\"alertmesh.v1.AlertService/Analyze\",status=\"OK\"} 1"))
        #expect(text.contains("alertmesh_log_events_dropped_total{\(alert)} 0"))
        #expect(text.contains("alertmesh_tasks_total{event=\"succeeded\"} 1"))
        // A service that is down shows as such, and the scrape still answers.
        mesh.stopAlertService()
        var after = ""
        try mesh.waitFor("/metrics to show the alert-service down") {
            after = mesh.requestText("GET", "/metrics")
            return after.contains("alertmesh_up{\(alert)} 0")
        }
        #expect(after.contains("alertmesh_up{\(worker)} 1"), "the scrape still answers for the rest")
    }

    @Test func oneInfluxQueryShowsATasksWholeJourney() throws {
        let influx = try InfluxServer(
            configFile: repositoryRoot.appendingPathComponent("compose/influxdb/influxdb.conf").path)
        defer { influx.stop() }
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        mesh.influxUDP = "127.0.0.1:\(influx.udpPort)"
        try mesh.startAlertService()
        try mesh.startWorker()
        try mesh.startAPI()
        let id = try #require(mesh.submit("my secret email is test@mail.com and my card is 1234567890123456"))
        try mesh.waitFor("SUCCESS") { mesh.state(id) == "SUCCESS" }
        var rows: [[String: Any]] = []
        try mesh.waitFor("the trail in influxd") {
            rows = influx.rows("SELECT * FROM log_event WHERE task_id = '\(id)'")
            return Set(rows.compactMap { $0["service"] as? String }) == ["api-service", "worker", "alert-service"]
        }
        let journey = rows.map { "\($0["service"] ?? "") \($0["message"] ?? "")" }
        #expect(journey == ["api-service task submitted", "alert-service analyzed", "worker task succeeded"])
        #expect(
            rows.allSatisfy { $0["duration_ms"] is Double && $0["host"] is String && $0["level"] as? String == "info" })
        // Nothing in clear: not in influxd, not in any file.
        let everything = influx.rows("SELECT * FROM log_event").map { "\($0)" }.joined()
        #expect(
            !everything.isEmpty && !everything.contains("test@mail.com") && !everything.contains("1234567890123456"))

        // influxd goes away: the mesh does not notice.
        influx.stop()
        let later = try #require(mesh.submit("still working: password=x"))
        try mesh.waitFor("SUCCESS without influxd") { mesh.state(later) == "SUCCESS" }
        try mesh.waitFor("the files still get every line") { mesh.logs(tail: Int.max).contains(later) }
    }

    @Test func sighupReopensTheLogFileForLogrotate() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        try mesh.startAlertService()
        let worker = try mesh.startWorker()
        try mesh.startAPI()
        let first = try #require(mesh.submit("before rotation"))
        try mesh.waitFor("SUCCESS") { mesh.state(first) == "SUCCESS" }
        let log = mesh.dir + "/logs/worker.log"
        try mesh.waitFor("first line") { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains(first) }
        try FileManager.default.moveItem(atPath: log, toPath: log + ".rotated")
        kill(worker.processIdentifier, SIGHUP)
        usleep(200_000)
        let second = try #require(mesh.submit("after rotation"))
        try mesh.waitFor("a fresh file with the new line") {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains(second)
        }
        #expect(worker.isRunning, "SIGHUP does not stop the worker")
        let rotated = try String(contentsOfFile: log + ".rotated", encoding: .utf8)
        #expect(rotated.contains(first) && !rotated.contains(second))
    }

    @Test func noAlertServiceMeansTheTaskWaitsWithoutUsingAnAttempt() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        let workerSocket = "unix:" + mesh.dir + "/worker.sock"
        try mesh.startWorker(["--max-attempts", "2", "--listen", workerSocket])
        try mesh.startAPI()
        // No alert-service at all: the worker takes nothing (it would only be put back), says
        // why, and the task waits in PENDING with no attempt spent.
        try mesh.waitFor("the worker to pause") { mesh.figure(workerSocket, "worker_paused") == 1 }
        try mesh.waitFor("health to say why") {
            mesh.probe(workerSocket, ["health"]).stdout.contains("NOT_SERVING: no alert-service can take a call")
        }
        let id = try #require(mesh.submit("card 4111 1111 1111 1111"))
        sleep(3)  // far past two attempts' worth of retries: still nothing spent
        #expect(mesh.status(id)["attempts"] as? Int == 0)
        #expect(mesh.state(id) == "PENDING")
        try mesh.startAlertService()
        try mesh.waitFor("SUCCESS once the service is there") { mesh.state(id) == "SUCCESS" }
        #expect(mesh.status(id)["attempts"] as? Int == 1)
        #expect(mesh.reports() == ["\(id).txt"])
        #expect(mesh.redisCLI(["XLEN", "{alertmesh}:dead"]) == "0")
    }

    @Test func aWorkerKilledWhileHoldingTasksLosesNothingAndDuplicatesNothing() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        try mesh.startAlertService()
        let lease = ["--lease-ms", "2000", "--reclaim-interval-ms", "300", "--attempt-timeout-ms", "60000"]
        let doomed = try mesh.startWorker(lease)
        try mesh.startAPI()
        let warmup = try #require(mesh.submit("warm up the connection"))
        try mesh.waitFor("warm-up") { mesh.state(warmup) == "SUCCESS" }
        // Freeze alert-service: the worker's calls go out and get no answer, so it holds its tasks.
        kill(mesh.alertService!.processIdentifier, SIGSTOP)
        var ids: [String] = []
        for i in 0..<10 { ids.append(try #require(mesh.submit("task \(i): password=hunter\(i)"))) }
        try mesh.waitFor("all started") { ids.allSatisfy { mesh.state($0) == "STARTED" } }
        kill(doomed.processIdentifier, SIGKILL)
        doomed.waitUntilExit()
        kill(mesh.alertService!.processIdentifier, SIGCONT)
        try mesh.startWorker(lease)
        try mesh.waitFor("every task done by the other worker", seconds: 30) {
            ids.allSatisfy { mesh.state($0) == "SUCCESS" }
        }
        for id in ids { #expect(mesh.status(id)["attempts"] as? Int == 2, "the crash counted as an attempt") }
        // The warm-up message has no hit, so no report; every other task has exactly one.
        #expect(mesh.reports() == ids.map { "\($0).txt" }.sorted(), "one report per task, no duplicate")
        #expect(mesh.redisCLI(["XLEN", "{alertmesh}:tasks"]) == "0")
        #expect(mesh.redisCLI(["XLEN", "{alertmesh}:dead"]) == "0")
    }

    @Test func redisKilledAndRestartedUnderLoadOnABusyDiskLosesNoAcceptedTask() throws {
        // The shipped configuration, on a disk kept busy by another writer: a 202 means the task
        // is on disk (appendfsync always). With `everysec` Redis would answer before its AOF write
        // here (it holds writes back while a slow fsync runs), and a SIGKILL lost what it answered.
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        let busy = try BusyDisk(directory: mesh.redis.directory)
        defer { busy.stop() }
        #expect(
            mesh.redisCLI(["CONFIG", "GET", "appendfsync"]).hasSuffix("always"),
            "the shipped redis.conf must fsync before it answers")
        try mesh.startAlertService()
        try mesh.startWorker()
        try mesh.startWorker()
        try mesh.startAPI(["--redis-timeout-ms", "500"])
        // Four clients submit without pause while redis-server is killed (SIGKILL) and restarted,
        // twice.
        let stopFlag = StopFlag()
        let clients = mesh.submitters(4, until: stopFlag) { n, i in "client \(n) task \(i): mail me at a\(i)@b.io" }
        var fsyncMs: [Double] = []
        for _ in 0..<2 {
            usleep(700_000)
            fsyncMs.append(BusyDisk.fsyncMs(in: mesh.redis.directory))
            mesh.redis.kill()
            usleep(700_000)
            try mesh.redis.restart()
            try mesh.waitFor("api-service ready again") { mesh.request("GET", "/readyz").status == 200 }
        }
        usleep(700_000)
        stopFlag.set()
        try mesh.waitFor("clients done") { clients.allSatisfy(\.isDone) }
        busy.stop()
        let accepted = clients.flatMap(\.result.accepted)
        let refused = clients.map(\.result.refusedAt.count).reduce(0, +)
        let fsyncs = fsyncMs.map { String(format: "%.1f", $0) }.joined(separator: ", ")
        print("busy disk: an fsync of 2 KiB took \(fsyncs) ms; \(accepted.count) accepted, \(refused) refused")
        #expect(clients.allSatisfy { $0.result.wrong.isEmpty }, "only 202 or 503: \(clients.flatMap(\.result.wrong))")
        #expect(refused > 0, "redis was down for a while: some submits must have been refused")
        #expect(accepted.count > 50)
        do {
            try mesh.waitFor("every accepted task done", seconds: 60) {
                accepted.allSatisfy { mesh.state($0) == "SUCCESS" }
            }
        } catch {
            // Say which tasks are stuck and where: their status, and the stream's view of them.
            let stuck = accepted.filter { mesh.state($0) != "SUCCESS" }.prefix(5)
            let states = stuck.map { "\($0): \(mesh.status($0))" }
            Issue.record(
                """
                \(stuck.count) of \(accepted.count) accepted tasks not done:
                \(states.joined(separator: "\n"))
                XINFO GROUPS: \(mesh.redisCLI(["XINFO", "GROUPS", "{alertmesh}:tasks"]))
                XPENDING: \(mesh.redisCLI(["XPENDING", "{alertmesh}:tasks", "workers", "-", "+", "10"]))
                XLEN: \(mesh.redisCLI(["XLEN", "{alertmesh}:tasks"])) ZCARD delayed: \(mesh.redisCLI(["ZCARD", "{alertmesh}:delayed"]))
                """)
            throw error
        }
        #expect(Set(mesh.reports()).isSuperset(of: accepted.map { "\($0).txt" }))
        // The outage is in each worker's log a few times, not once per failed command.
        let log = (try? String(contentsOfFile: mesh.dir + "/logs/worker.log", encoding: .utf8)) ?? ""
        let redisLines = log.split(separator: "\n").filter { $0.contains("msg=\"redis: ") }
        #expect(redisLines.count <= 6, "two workers: \(redisLines.joined(separator: "\n"))")
    }

    @Test func callsSpreadOverSeveralAlertServicesAndSurviveLosingOne() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        let a = try mesh.startAlertService(socket: mesh.dir + "/a.sock", log: "alert-a.log")
        _ = try mesh.startAlertService(socket: mesh.dir + "/b.sock", log: "alert-b.log")
        try mesh.startWorker([
            "--alert-endpoint", "unix:" + mesh.dir + "/a.sock", "--alert-endpoint", "unix:" + mesh.dir + "/b.sock",
            "--retry-base-ms", "100",
        ])
        try mesh.startAPI()
        var ids = try (0..<20).map { i in try #require(mesh.submit("first batch \(i): secret=s\(i)")) }
        try mesh.waitFor("first batch") { ids.allSatisfy { mesh.state($0) == "SUCCESS" } }
        kill(a.processIdentifier, SIGKILL)
        ids += try (0..<20).map { i in try #require(mesh.submit("second batch \(i): secret=s\(i)")) }
        try mesh.waitFor("second batch, on the survivor") { ids.allSatisfy { mesh.state($0) == "SUCCESS" } }
        #expect(mesh.reports().count == 40)
    }

    @Test func sigtermHandsBackTasksInFlightForAnotherWorker() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        try mesh.startAlertService()
        let first = try mesh.startWorker(["--shutdown-grace-ms", "500", "--attempt-timeout-ms", "60000"])
        try mesh.startAPI()
        let warmup = try #require(mesh.submit("warm up"))
        try mesh.waitFor("warm-up") { mesh.state(warmup) == "SUCCESS" }
        kill(mesh.alertService!.processIdentifier, SIGSTOP)
        let ids = try (0..<5).map { i in try #require(mesh.submit("in flight \(i): secret=abc\(i)")) }
        try mesh.waitFor("all started") { ids.allSatisfy { mesh.state($0) == "STARTED" } }
        kill(first.processIdentifier, SIGTERM)
        try mesh.waitFor("the first worker exits after its grace") { !first.isRunning }
        #expect(first.terminationStatus == 0)
        kill(mesh.alertService!.processIdentifier, SIGCONT)
        // The default lease is 60 s; handed-back tasks are taken at the next sweep, not a minute later.
        try mesh.startWorker(["--reclaim-interval-ms", "200"])
        try mesh.waitFor("the second worker finishes them", seconds: 15) {
            ids.allSatisfy { mesh.state($0) == "SUCCESS" }
        }
        #expect(mesh.reports().count == 5)
    }

    @Test func everyServiceStopsCleanlyOnSIGTERMAndFlushesItsLog() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        try mesh.startAlertService()
        let worker = try mesh.startWorker(["--shutdown-grace-ms", "5000"])
        try mesh.startAPI()
        let id = try #require(mesh.submit("one more thing"))
        try mesh.waitFor("SUCCESS") { mesh.state(id) == "SUCCESS" }
        let processes = [mesh.api!, worker, mesh.alertService!]
        for p in processes { kill(p.processIdentifier, SIGTERM) }
        try mesh.waitFor("exits") { processes.allSatisfy { !$0.isRunning } }
        for p in processes {
            #expect(p.terminationReason == .exit && p.terminationStatus == 0, "\(p.executableURL!.lastPathComponent)")
        }
        // The last words reached the files before exit (the shipper flushes on shutdown).
        for (service, words) in [
            ("api-service", "msg=stopped"), ("worker", "msg=stopped"), ("alert-service", "rpc server stopped"),
        ] {
            let log = (try? String(contentsOfFile: mesh.dir + "/logs/\(service).log", encoding: .utf8)) ?? ""
            #expect(log.contains(words), "\(service): \(log.suffix(300))")
        }
    }
}

/// A flag one thread sets and others read.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}

@Suite(.serialized) struct DocsPageBrowserTests {
    /// Debian's chromium, headless: load /docs, press Submit (the page's ?try=1 clicks it), and read
    /// the DOM once the page has polled the task to its end.
    @Test func aPersonCanSubmitFromTheDocsPageAndSeeTheAlerts() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        try mesh.startAlertService()
        try mesh.startWorker()
        try mesh.startAPI()
        // Headless Chromium on a loaded machine sometimes dumps the page before its scripts have
        // run (the static page, no endpoint table, nothing submitted): such a run is tried again.
        let finished = #"<span id="state" class="state SUCCESS">SUCCESS</span>"#
        let dom = try headlessChromium(
            "http://127.0.0.1:\(mesh.httpPort)/docs?try=1", ["--dump-dom"], in: mesh.dir, attempts: 8, budgetMs: 20_000
        ) { $0.contains(finished) }
        #expect(dom.contains(finished))
        for alert in ["card_number_detected", "email_detected", "personal_data"] {
            #expect(dom.contains(#"<span class="alert">\#(alert)</span>"#))
        }
        // The endpoint table was built from /openapi.json.
        #expect(dom.contains("<code>/status/{task_id}</code>") && dom.contains("Queue a message for analysis"))
        let task = dom.firstMatch(of: /<code id="task">([0-9a-f-]{36})<\/code>/).map { String($0.1) }
        let id = try #require(task)
        #expect(mesh.state(id) == "SUCCESS")
    }

    /// With --api-keys-file, the page's submit without a key is refused, and the page says what to do.
    @Test func withAPIKeysTheDocsPageAsksForOne() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        let keys = mesh.dir + "/api-keys"
        try "a-key-of-at-least-sixteen-chars\n".write(toFile: keys, atomically: true, encoding: .utf8)
        try mesh.startAPI(["--api-keys-file", keys])
        let asked = "401 an API key is required: Authorization: Bearer &lt;key&gt; (enter an API key above)"
        let dom = try headlessChromium(
            "http://127.0.0.1:\(mesh.httpPort)/docs?try=1", ["--dump-dom"], in: mesh.dir, attempts: 8, budgetMs: 20_000
        ) { $0.contains(asked) }
        #expect(dom.contains(asked), "\(dom.suffix(800))")
        #expect(dom.contains(#"<input id="key" type="password""#))
    }
}
