// MonitorBrowserTests: /monitor in Debian's headless Chromium while a load runs — the chart grows,
// workers and alert-services show as serving, a worker shows as paused when every alert-service
// is gone — and a screenshot written as a test artifact.

import Foundation
import MeshTestSupport
import Testing

/// Runs headless Chromium on `url` with `arguments` (`--dump-dom`, `--screenshot=…`); its standard
/// output. Chromium on a loaded machine sometimes exits at once ("zygote … Broken pipe") or dumps
/// the page before its scripts ran: such runs are tried again, up to `attempts` times, until
/// `accept` holds. (Seen in loaded full-suite runs: Chromium exiting 5 within a second of starting,
/// five times in a row over 20 s, while other suites start and stop whole meshes; the doubling
/// pauses let whatever it tripped over pass.)
func headlessChromium(
    _ url: String, _ arguments: [String], in dir: String, attempts: Int = 6, budgetMs: Int = 6_000,
    accept: (String) -> Bool
) throws -> String {
    var out = ""
    var errors = ""
    for attempt in 1...attempts {
        if attempt > 1 { Thread.sleep(forTimeInterval: min(16, pow(2, Double(attempt - 1)))) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        p.arguments =
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(dir)/chromium-\(UUID().uuidString)",
                "--virtual-time-budget=\(budgetMs)",
            ] + arguments + [url]
        let pipe = Pipe()
        let errPath = dir + "/chromium-\(attempt).err"
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        p.standardOutput = pipe
        p.standardError = FileHandle(forWritingAtPath: errPath)
        try p.run()
        let watchdog = DispatchWorkItem { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        watchdog.cancel()
        if accept(out) { return out }
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        errors += "attempt \(attempt): exit \(p.terminationStatus), \(out.utf8.count) bytes; \(err.suffix(800))\n"
    }
    throw MeshError("chromium never gave an acceptable page for \(url):\n\(out.suffix(2000))\n\(errors)")
}

@Suite(.serialized) struct MonitorBrowserTests {
    static func points(_ dom: String) -> Int {
        dom.firstMatch(of: /data-points="([0-9]+)"/).flatMap { Int($0.1) } ?? 0
    }

    static func rowState(_ dom: String, table: String) -> String? {
        guard let start = dom.range(of: "<table id=\"\(table)\"") else { return nil }
        return dom[start.upperBound...].firstMatch(of: /class="state-([a-z-]+)">/).map { String($0.1) }
    }

    @Test func theMonitorShowsTheMeshLiveAndAWorkerPausedWhenNoAlertServiceIsLeft() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        let workerSocket = try mesh.startScrapedMesh()
        let load = Submitter(mesh, perSecond: 40) { "monitor \($0): mail me at jane.doe@example.com" }
        defer { _ = load.stop() }
        sleep(3)
        let url = "http://127.0.0.1:\(mesh.httpPort)/monitor"

        // The chart has points and gains more; both services are serving.
        let first = try headlessChromium(url, ["--dump-dom"], in: mesh.dir) {
            Self.points($0) >= 2 && Self.rowState($0, table: "workers") == "serving"
        }
        #expect(Self.rowState(first, table: "alert-services") == "serving")
        #expect(first.contains(workerSocket) && first.contains("unix:" + mesh.alertSocket))
        #expect(!first.contains("jane.doe"), "no message text on the page")
        // The recent alerts: the load's e-mail addresses, masked.
        let recent = try headlessChromium(url, ["--dump-dom"], in: mesh.dir) {
            $0.contains("<span class=\"code\">email_detected</span>")
        }
        #expect(recent.contains("j***@example.com") && !recent.contains("jane.doe"))
        // A task looked up: its state, attempts, times and masked findings.
        let id = try #require(mesh.submit("write to jane.doe@example.com, card 4111 1111 1111 1111"))
        try mesh.waitFor("SUCCESS") { mesh.state(id) == "SUCCESS" }
        let task = try headlessChromium(url + "?task=" + id, ["--dump-dom"], in: mesh.dir) {
            $0.contains("<td>state</td><td>SUCCESS</td>")
        }
        #expect(task.contains("<td>attempts</td><td>1</td>"))
        #expect(
            task.contains("PENDING — submitted") && task.contains("STARTED — attempt 1")
                && task.contains("<td>SUCCESS</td>"))
        #expect(task.contains("email_detected j***@example.com") && task.contains("**** **** **** 1111"))
        #expect(!task.contains("jane.doe") && !task.contains("4111 1111"), "masked only")
        sleep(3)
        let second = try headlessChromium(url, ["--dump-dom"], in: mesh.dir) { Self.points($0) > Self.points(first) }
        #expect(Self.points(second) > Self.points(first))
        let completed = second.firstMatch(of: /id="now-completed">([0-9.]+)\/s</).flatMap { Double($0.1) }
        #expect((completed ?? 0) > 0, "tasks complete under the load")

        // A screenshot, as a test artifact (a person can look at what the test saw).
        let artifacts = repositoryRoot.appendingPathComponent(".build/artifacts").path
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let png = artifacts + "/monitor.png"
        try? FileManager.default.removeItem(atPath: png)
        _ = try headlessChromium(
            url, ["--screenshot=\(png)", "--window-size=1000,760", "--hide-scrollbars"], in: mesh.dir
        ) {
            _ in FileManager.default.fileExists(atPath: png)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: png)[.size] as? Int) ?? 0
        #expect(size > 10_000, "screenshot \(png): \(size) bytes")
        print("monitor screenshot: \(png)")

        // Every alert-service gone: the worker pauses, and the page says so, with why.
        mesh.stopAlertService()
        try mesh.waitFor("the worker to pause") { mesh.figure(workerSocket, "worker_paused") == 1 }
        let paused = try headlessChromium(url, ["--dump-dom"], in: mesh.dir) {
            Self.rowState($0, table: "workers") == "paused"
        }
        #expect(Self.rowState(paused, table: "alert-services") == "down")
        #expect(paused.contains("alert-service"), "the reason names what is missing")
    }
}

@Suite struct MonitorDeadLetterTests {
    /// A task that fails for good shows in /monitor's dead letters (no message text), and with
    /// --monitor-admin the monitor re-drives it through the worker's Redrive method.
    @Test func theMonitorListsADeadLetterAndReDrivesItThroughAWorker() throws {
        guard let disk = FullDisk() else { return }  // not root: cannot mount a full disk
        defer { disk.remove() }
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        try mesh.startAlertService(["--reports-dir", disk.path])
        try mesh.startScrapedMesh(
            worker: ["--retry-base-ms", "200", "--retry-max-ms", "400", "--max-attempts", "2"], api: ["--monitor-admin"]
        )
        let id = try #require(mesh.submit("card 4111 1111 1111 1111, password=hunter2"))
        try mesh.waitFor("FAILURE", seconds: 30) { mesh.state(id) == "FAILURE" }
        var listed = MeshProcesses.Response()
        try mesh.waitFor("the monitor to list it") {
            listed = mesh.request("GET", "/monitor/api/dead-letters")
            return listed.status == 200 && listed.json["total"] as? Int == 1
        }
        let rows = listed.json["dead_letters"] as? [[String: Any]] ?? []
        #expect(rows.first?["task_id"] as? String == id)
        #expect((rows.first?["last_error"] as? String)?.contains("cannot write report") == true, "\(rows)")
        #expect(rows.first?["message"] == nil && listed.json["redrive_enabled"] as? Bool == true)
        // Its history: every transition with its error, oldest first.
        func history() -> [String] {
            (mesh.status(id)["history"] as? [[String: Any]] ?? []).map {
                "\($0["state"] ?? "") \($0["detail"] ?? "")".trimmingCharacters(in: .whitespaces)
            }
        }
        let failed = history()
        #expect(failed.count == 5, "\(failed)")
        #expect(failed.first == "PENDING submitted" && failed.dropFirst().first == "STARTED attempt 1", "\(failed)")
        #expect(
            failed.dropFirst(2).first?.hasPrefix("RETRY ") == true
                && failed.dropFirst(2).first?.contains("cannot write report") == true)
        #expect(
            failed.dropFirst(3).first == "STARTED attempt 2"
                && failed.last?.hasPrefix("FAILURE gave up after 2 attempts") == true)
        let raw = mesh.requestText("GET", "/monitor/api/dead-letters")
        #expect(!raw.contains("4111") && !raw.contains("hunter2"), "no message text: \(raw)")

        disk.free()
        let body = "{\"task_ids\": [\"\(id)\"]}"
        let redriven = mesh.request(
            "POST", "/monitor/api/dead-letters/redrive", body: body)
        #expect(redriven.status == 200 && (redriven.json["redriven"] as? [String]) == [id], "\(redriven.json)")
        try mesh.waitFor("SUCCESS after the re-drive", seconds: 20) { mesh.state(id) == "SUCCESS" }
        let after = history()
        #expect(Array(after.prefix(5)) == failed, "the first run's transitions stay: \(after)")
        #expect(
            Array(after.dropFirst(5)).map { $0.prefix(13) } == ["PENDING re-dr", "STARTED attem", "SUCCESS"], "\(after)"
        )
        let again = mesh.request("POST", "/monitor/api/dead-letters/redrive", body: body)
        #expect(again.status == 200 && "\(again.json["refused"] ?? "")".contains("already succeeded"), "\(again.json)")
    }
}
