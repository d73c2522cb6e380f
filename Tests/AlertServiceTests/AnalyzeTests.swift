// AnalyzeTests: the Analyze RPC over a real socket — results, reports, limits, failures, privacy.

import AlertContract
import AlertService
import Alerts
import Foundation
import Logging
import MeshLoop
import MeshProto
import MeshRPC
import MeshWire
import Synchronization
import Testing

/// Collects every log line (rendered with its metadata) so tests can check what reached the logs.
final class CapturedLogs: Sendable {
    let lines = Mutex<[String]>([])
    var all: String { lines.withLock { $0.joined(separator: "\n") } }
}

struct CapturingHandler: LogHandler {
    let sink: CapturedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let md = metadata.merging(event.metadata ?? [:]) { $1 }.map { "\($0)=\($1)" }.sorted().joined(separator: " ")
        sink.lines.withLock { $0.append("\(event.level) \(event.message) \(md)") }
    }
}

final class Fixture {
    let dir: String
    let reports: String
    let loop: EventLoop
    let server: RPCServer
    let client: RPCClient
    let logs = CapturedLogs()

    init(maxMessageBytes: Int = 1 << 20) throws {
        dir = NSTemporaryDirectory() + "alertmesh-as-\(UUID().uuidString.prefix(8))"
        reports = dir + "/reports"
        loop = try EventLoop()
        let sink = logs
        let logger = Logger(label: "alert-service") { _ in CapturingHandler(sink: sink) }
        server = try RPCServer(loop: loop, configuration: .init(name: "alert-service"), logger: logger)
        var config = AlertAnalyzer.Configuration()
        config.maxMessageBytes = maxMessageBytes
        AlertAnalyzer(
            detector: Detector(), store: try ReportStore(directory: reports), configuration: config, logger: logger
        )
        .register(on: server)
        let ep = try server.listen(on: .unix(path: dir + "/a.sock"))
        client = RPCClient(loop: loop, endpoints: [ep], configuration: .init(name: "test"))
    }

    func analyze(_ taskID: String, _ message: String) -> Result<Alertmesh_V1_AnalyzeResponse, RPCError> {
        var req = Alertmesh_V1_AnalyzeRequest()
        req.taskID = taskID
        req.message = message
        var result: Result<Alertmesh_V1_AnalyzeResponse, RPCError>?
        client.call(AlertServiceMethods.analyze, req, timeoutMs: 10_000) { result = $0 }
        loop.run(until: { result != nil })
        return result!
    }

    func recent(limit: UInt32 = 0) -> [Alertmesh_V1_RecentAlert] {
        var req = Alertmesh_V1_RecentAlertsRequest()
        req.limit = limit
        var result: Result<Alertmesh_V1_RecentAlertsResponse, RPCError>?
        client.call(AlertServiceMethods.recent, req, timeoutMs: 10_000) { result = $0 }
        loop.run(until: { result != nil })
        return (try? result!.get().alerts) ?? []
    }

    var reportFiles: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: reports)) ?? []).sorted() }

    func tearDown() {
        client.close()
        var done = false
        server.shutdown(graceMs: 1_000) { done = true }
        loop.run(until: { done })
        loop.runUntilHandlesClosed(maxTurns: 20)
        #expect(throws: Never.self) { try loop.close() }
        try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: reports)
        try? FileManager.default.removeItem(atPath: dir)
    }
}

@Suite(.serialized) struct AnalyzeTests {
    static let example = "my secret email is test@mail.com and my card is 1234567890123456"

    @Test func theOldSystemsExampleWritesExactlyOneMaskedReport() throws {
        let f = try Fixture()
        defer { f.tearDown() }
        let r = try f.analyze("task-1", Self.example).get()
        #expect(r.status == "processed")
        #expect(r.alerts == ["card_number_detected", "email_detected", "personal_data"])
        #expect(r.findings.map(\.masked) == ["s*****", "t***@mail.com", "************3456"])
        #expect(r.findings.last?.hasLuhnValid == true && r.findings.last?.luhnValid == false)
        #expect(r.findings.first?.hasLuhnValid == false)
        #expect(r.report == "task-1.txt")
        #expect(f.reportFiles == ["task-1.txt"])
        let text = try String(contentsOfFile: f.reports + "/task-1.txt", encoding: .utf8)
        #expect(text.contains("task:     task-1"))
        #expect(text.contains("alerts:   card_number_detected, email_detected, personal_data"))
        for raw in ["test@mail.com", "1234567890123456", "secret", Self.example] {
            #expect(!text.contains(raw), "the report holds \(raw) in clear")
            #expect(!f.logs.all.contains(raw), "a log line holds \(raw) in clear")
        }
    }

    @Test func retriesAndDuplicatesNeverWriteASecondReport() throws {
        let f = try Fixture()
        defer { f.tearDown() }
        _ = try f.analyze("dup", Self.example).get()
        let path = f.reports + "/dup.txt"
        let first = try FileManager.default.attributesOfItem(atPath: path)
        let firstText = try String(contentsOfFile: path, encoding: .utf8)
        usleep(20_000)
        // Sequential retries and a burst of concurrent duplicates.
        _ = try f.analyze("dup", Self.example).get()
        var done = 0
        for _ in 0..<20 {
            var req = Alertmesh_V1_AnalyzeRequest()
            req.taskID = "dup"
            req.message = Self.example
            f.client.call(AlertServiceMethods.analyze, req) { result in
                #expect((try? result.get().report) == "dup.txt")
                done += 1
            }
        }
        f.loop.run(until: { done == 20 })
        #expect(f.reportFiles == ["dup.txt"], "no second report and no temp file left")
        let after = try FileManager.default.attributesOfItem(atPath: path)
        #expect(after[.systemFileNumber] as? Int == first[.systemFileNumber] as? Int, "the report was replaced")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == firstText)
    }

    @Test func noPartialReportIsEverVisible() throws {
        let f = try Fixture()
        defer { f.tearDown() }
        let reports = f.reports
        let stop = Atomic<Bool>(false)
        let torn = Atomic<Int>(0)
        let reads = Atomic<Int>(0)
        let watcher = Thread {
            while !stop.load(ordering: .relaxed) {
                for name in (try? FileManager.default.contentsOfDirectory(atPath: reports)) ?? []
                where name.hasSuffix(".txt") {
                    guard let text = try? String(contentsOfFile: reports + "/" + name, encoding: .utf8) else {
                        continue
                    }
                    reads.add(1, ordering: .relaxed)
                    if !(text.hasPrefix("alertmesh alert report\n") && text.hasSuffix("\n")
                        && text.contains("findings:"))
                    {
                        torn.add(1, ordering: .relaxed)
                    }
                }
            }
        }
        watcher.start()
        let long = String(repeating: "password ", count: 900) + "a@b.com"
        var done = 0
        for i in 0..<200 {
            var req = Alertmesh_V1_AnalyzeRequest()
            req.taskID = "t\(i)"
            req.message = long
            f.client.call(AlertServiceMethods.analyze, req) { _ in done += 1 }
        }
        f.loop.run(until: { done == 200 })
        stop.store(true, ordering: .relaxed)
        usleep(50_000)
        #expect(torn.load(ordering: .relaxed) == 0)
        #expect(reads.load(ordering: .relaxed) > 0)
        #expect(f.reportFiles.count == 200)
        #expect(f.reportFiles.allSatisfy { !$0.hasPrefix(".") })
    }

    @Test(arguments: [
        "", "../etc/passwd", "a/b", ".", "..", "a.b", ".hidden", "x\u{0}y", "tâche", String(repeating: "x", count: 129),
    ])
    func unsafeTaskIDsAreRejected(id: String) throws {
        let f = try Fixture()
        defer { f.tearDown() }
        guard case .failure(let e) = f.analyze(id, "my password") else {
            Issue.record("accepted \(id.debugDescription)"); return
        }
        #expect(e.code == .invalidArgument)
        #expect(e.message == "task_id must be 1-128 characters of [A-Za-z0-9_-]")
        #expect(f.reportFiles.isEmpty)
    }

    /// `Recent`: the last 50 analyses with alerts, newest first, masked excerpts only, at most 10
    /// findings each; analyses without alerts are not kept.
    @Test func recentKeepsTheLastFiftyAlertingAnalysesMasked() throws {
        let w = try Fixture()
        defer { w.tearDown() }
        #expect(w.recent().isEmpty)
        for i in 0..<60 {
            _ = w.analyze("t-\(i)", i % 2 == 0 ? "mail jane.doe@example.com \(i)" : "nothing to see \(i)")
        }
        _ = w.analyze("many", String(repeating: "password ", count: 30))
        let recent = w.recent()
        #expect(recent.count == 31, "30 alerting analyses and one more: \(recent.count)")
        #expect(recent.first?.taskID == "many" && recent.first?.findings.count == 10)
        #expect(recent.dropFirst().first?.taskID == "t-58" && recent.last?.taskID == "t-0")
        #expect(
            recent.dropFirst().allSatisfy {
                $0.alerts == ["email_detected"] && $0.findings.first?.masked == "j***@example.com"
            })
        #expect(w.recent(limit: 3).map(\.taskID) == ["many", "t-58", "t-56"])
        for i in 60..<100 { _ = w.analyze("u-\(i)", "password \(i)") }
        let full = w.recent()
        #expect(full.count == 50 && full.first?.taskID == "u-99" && full.last?.taskID == "t-42", "a fixed ring of 50")
    }

    @Test func messagesWithoutAlertsWriteNothing() throws {
        let f = try Fixture()
        defer { f.tearDown() }
        for text in ["", "   ", "hello there", "passwords and secretary"] {
            let r = try f.analyze("quiet", text).get()
            #expect(r.alerts.isEmpty && r.findings.isEmpty && r.report.isEmpty)
        }
        #expect(f.reportFiles.isEmpty)
    }

    @Test func oversizedMessageIsResourceExhausted() throws {
        let f = try Fixture(maxMessageBytes: 1_000)
        defer { f.tearDown() }
        guard case .failure(let e) = f.analyze("big", String(repeating: "a", count: 1_001)) else {
            Issue.record(); return
        }
        #expect(e.code == .resourceExhausted)
        #expect(e.message == "message of 1001 bytes exceeds the limit of 1000 bytes")
        #expect((try? f.analyze("ok", String(repeating: "a", count: 1_000)).get()) != nil)
    }

    @Test func invalidUTF8IsInvalidArgument() throws {
        let f = try Fixture()
        defer { f.tearDown() }
        // AnalyzeRequest{task_id: "u", message: <0xff 0xfe>} encoded by hand.
        let payload: [UInt8] = [0x0A, 0x01, 0x75, 0x12, 0x02, 0xFF, 0xFE]
        var result: Result<RawResponse, RPCError>?
        f.client.call(methodID: AlertServiceMethods.analyze.descriptor.id.rawValue, payload: payload) { result = $0 }
        f.loop.run(until: { result != nil })
        guard case .failure(let e) = result else { Issue.record("accepted invalid UTF-8"); return }
        #expect(e.code == .invalidArgument)
        #expect(f.reportFiles.isEmpty)
    }

    @Test func aBrokenReportDirectoryFailsTheCallAndTheServiceRecovers() throws {
        let f = try Fixture()
        defer { f.tearDown() }
        // Replace the reports directory with a plain file: every write now fails (ENOTDIR).
        try FileManager.default.moveItem(atPath: f.reports, toPath: f.dir + "/saved")
        FileManager.default.createFile(atPath: f.reports, contents: Data("not a directory".utf8))
        guard case .failure(let e) = f.analyze("t1", Self.example) else { Issue.record("write should fail"); return }
        #expect(e.code == .unavailable)
        #expect(e.message == "cannot write report: open(\(f.reports), O_TMPFILE): Not a directory", "got \(e.message)")
        #expect(e.message.hasSuffix("Not a directory"))
        // Still serving; once the disk is back, the retried task succeeds.
        try FileManager.default.removeItem(atPath: f.reports)
        try FileManager.default.moveItem(atPath: f.dir + "/saved", toPath: f.reports)
        #expect((try? f.analyze("t1", Self.example).get().report) == "t1.txt")
        #expect(f.reportFiles == ["t1.txt"])
    }
}
