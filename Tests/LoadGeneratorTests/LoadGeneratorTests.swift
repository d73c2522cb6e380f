// LoadGeneratorTests: the message mix, and a whole run against a small server that behaves (or lies).

import Alerts
import Foundation
import MeshHTTP
import MeshLoop
import Testing

@testable import LoadGenerator

struct MessageMixTests {
    @Test func theSameSeedGivesTheSameMessages() {
        var a = MessageMix(seed: 42)
        var b = MessageMix(seed: 42)
        var c = MessageMix(seed: 43)
        let first = (0..<100).map { _ in a.next() }
        #expect(first == (0..<100).map { _ in b.next() })
        #expect(first != (0..<100).map { _ in c.next() })
    }

    @Test func theAlertShareAndSizesHold() {
        let detector = Detector()
        var none = MessageMix(seed: 1, alertShare: 0, minBytes: 20, maxBytes: 4096)
        var all = MessageMix(seed: 1, alertShare: 1, minBytes: 20, maxBytes: 4096)
        var mixed = MessageMix(seed: 7, alertShare: 0.25)
        var sizes: [Int] = []
        for _ in 0..<2_000 {
            let m = none.next()
            sizes.append(m.utf8.count)
            #expect(detector.scan(m).alerts.isEmpty, "\(m)")
            #expect(!detector.scan(all.next()).alerts.isEmpty)
        }
        #expect(sizes.min()! >= 20 && sizes.max()! <= 4096 + 40)
        #expect(sizes.filter { $0 < 100 }.count > 200 && sizes.filter { $0 > 1000 }.count > 200, "tens of bytes to KiB")
        let withAlerts = (0..<4_000).filter { _ in !detector.scan(mixed.next()).alerts.isEmpty }.count
        #expect(withAlerts > 800 && withAlerts < 1_200)
    }
}

struct SubmitAnswerTests {
    @Test func theTaskIDComesFromLocationElseFromTheBody() {
        func id(_ location: String?, _ body: String) -> String? {
            LoadRun.taskID(
                HTTPClientResponse(
                    status: 202, headers: HTTPHeaders(location.map { [("Location", $0)] } ?? []), body: Array(body.utf8)
                ))
        }
        #expect(id("/status/abc", "") == "abc")
        #expect(id("http://h:8080/status/abc", "not json") == "abc")
        #expect(id(nil, #"{"task_id":"xyz","status":"submitted"}"#) == "xyz")
        #expect(id("/elsewhere/abc", #"{"task_id":"xyz"}"#) == "xyz")  // not a status URL: the body says
        #expect(id("/status/", #"{"task_id":"xyz"}"#) == "xyz")
        #expect(id(nil, "garbage") == nil)
    }
}

/// A stand-in API on our own HTTP server: tasks finish at once, with honest, wrong or no answers.
final class FakeAPI {
    enum Behaviour {
        case honest, lies, neverFinishes
        /// The Python/Celery design's answers: 200 `{"task_id"}` with no Location, and a status of
        /// `{"task_id", "state", "result"}` with no timestamp.
        case celeryLike
        /// The newest task of `total` never finishes; the older half finishes only after a second.
        case stuckProbe(total: Int)
    }
    let server: HTTPServer
    var messages: [String: String] = [:]

    init(loop: EventLoop, behaviour: Behaviour) throws {
        let detector = Detector()
        var messages: [String: String] = [:]
        var order: [String: Int] = [:]
        let started = Date()
        server = try HTTPServer(loop: loop, endpoint: .tcp(host: "127.0.0.1", port: 0)) { request, responder in
            if request.method == "POST" {
                struct Body: Decodable { var message: String }
                let message = (try? JSONDecoder().decode(Body.self, from: Data(request.body)))?.message ?? ""
                let id = UUID().uuidString.lowercased()
                messages[id] = message
                order[id] = order.count
                if case .celeryLike = behaviour {
                    return responder.respond(.json(200, Array(#"{"task_id":"\#(id)"}"#.utf8)))
                }
                responder.respond(.json(202, Array(#"{"task_id":"\#(id)","status":"submitted"}"#.utf8)))
                return
            }
            let id = String(request.path.dropFirst("/status/".count))
            guard let message = messages[id] else { return responder.respond(.error(404, "no task")) }
            let now = APIClock.rfc3339()
            var unfinished = false
            switch behaviour {
            case .neverFinishes: unfinished = true
            case .stuckProbe(let total):
                let index = order[id] ?? 0
                unfinished = index == total - 1 || (index < total / 2 && Date().timeIntervalSince(started) < 1)
            default: break
            }
            if unfinished {
                return responder.respond(
                    .json(200, Array(#"{"task_id":"\#(id)","state":"PENDING","updated_at":"\#(now)"}"#.utf8)))
            }
            var alerts = detector.scan(message).alerts.sorted.map { "\"\($0.rawValue)\"" }
            if case .lies = behaviour { alerts = alerts.isEmpty ? ["\"fraud_attempt\""] : [] }
            if case .celeryLike = behaviour {
                let body =
                    #"{"task_id":"\#(id)","state":"SUCCESS","result":{"status":"processed","alerts":[\#(alerts.joined(separator: ","))]}}"#
                return responder.respond(.json(200, Array(body.utf8)))
            }
            let body =
                #"{"task_id":"\#(id)","state":"SUCCESS","updated_at":"\#(now)","result":{"alerts":[\#(alerts.joined(separator: ","))]}}"#
            responder.respond(.json(200, Array(body.utf8)))
        }
    }

    var port: UInt16 {
        guard case .tcp(_, let p) = server.endpoint else { return 0 }
        return p
    }
}

enum APIClock {
    static func rfc3339() -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date())
    }
}

@Suite struct LoadRunTests {
    func run(_ behaviour: FakeAPI.Behaviour, configure: (inout LoadRun.Configuration) -> Void) throws -> LoadRun.Report
    {
        let loop = try EventLoop()
        let api = try FakeAPI(loop: loop, behaviour: behaviour)
        var config = LoadRun.Configuration(endpoint: .tcp(host: "127.0.0.1", port: api.port))
        configure(&config)
        let load = LoadRun(loop: loop, configuration: config)
        var report: LoadRun.Report?
        try load.start { report = $0 }
        let guardTimer = try LoopTimer(loop: loop)
        var timedOut = false
        guardTimer.start(afterMs: 30_000) { timedOut = true }
        guardTimer.unref()
        loop.run(until: { report != nil || timedOut })
        guardTimer.close()
        api.server.close()
        loop.runUntilHandlesClosed()
        #expect(!timedOut)
        #expect(throws: Never.self) { try loop.close() }
        return try #require(report)
    }

    @Test func anHonestServerHasNothingLostOrWrong() throws {
        let r = try run(.honest) {
            $0.tasks = 500
            $0.concurrency = 8
        }
        #expect(r.submitted == 500 && r.accepted == 500 && r.completed == 500)
        #expect(r.lost == 0 && r.wrong == 0 && r.errors.isEmpty)
        #expect(r.submit_p50_ms > 0 && r.submit_p99_ms >= r.submit_p50_ms && r.completed_per_s > 0)
    }

    /// The same tool measures the design alertmesh replaces: a 200 with a task id is accepted,
    /// and without `updated_at` the client's clock ends each task (and the report says so).
    @Test func aCeleryStyleAPIIsMeasuredWithTheClientsClock() throws {
        let r = try run(.celeryLike) {
            $0.tasks = 300
            $0.concurrency = 8
        }
        #expect(r.accepted == 300 && r.completed == 300 && r.errors.isEmpty, "\(r.errors)")
        #expect(r.lost == 0 && r.wrong == 0)
        #expect(r.e2e_clock == "client" && r.e2e_p50_ms > 0)
        let ours = try run(.honest) { $0.tasks = 50 }
        #expect(ours.e2e_clock == "server")
    }

    @Test func wrongAlertsAreCaught() throws {
        let r = try run(.lies) {
            $0.tasks = 200
            $0.alertShare = 0.5
        }
        #expect(r.completed == 200 && r.wrong == 200)
    }

    /// Polling follows a probe (the newest task); tasks that finish behind one that never does
    /// are still found by the sweeps of the oldest ones.
    @Test func tasksBehindAProbeThatNeverFinishesAreStillFound() throws {
        let r = try run(.stuckProbe(total: 400)) {
            $0.tasks = 400
            $0.concurrency = 8
            $0.timeoutSeconds = 4
        }
        #expect(r.accepted == 400)
        #expect(r.completed == 399)
        #expect(r.lost == 1)
    }

    @Test func tasksThatNeverFinishAreLostAfterTheTimeout() throws {
        let r = try run(.neverFinishes) {
            $0.rate = 200
            $0.durationSeconds = 0.5
            $0.timeoutSeconds = 0.5
        }
        #expect(r.mode == "open" && r.accepted == 100 && r.lost == 100 && r.completed == 0)
    }
}
