// MonitorTests: /monitor's page, files and JSON from a real api-service on a real redis-server.

import Foundation
import TaskQueue
import Testing

@testable import APIService

@Suite struct MonitorTests {
    @Test func theOverviewFillsItsRingFromTheSamplesAndShowsTheQueue() throws {
        let w = try APIWorld()
        try w.api.startMonitor(loop: w.loop)
        for i in 0..<5 { #expect(w.submit("monitor \(i)").status == 202) }
        let deadline = Date().addingTimeInterval(3.5)
        w.run(until: { Date() > deadline })
        let r = w.request("GET", "/monitor/api/overview")
        #expect(r.status == 200 && r.headers["content-type"]?.hasPrefix("application/json") == true)
        let o = r.json
        let throughput = try #require(o["throughput"] as? [String: Any])
        let points = try #require(throughput["points"] as? [[Double]])
        #expect(points.count >= 2, "a point a second: \(points)")
        #expect(points.allSatisfy { $0.count == 4 })
        let queue = try #require(o["queue"] as? [String: Any])
        #expect(queue["backlog"] as? Int == 5 && queue["lag"] as? Int == 5 && queue["redis_up"] as? Bool == true)
        #expect(queue["dead_letters"] as? Int == 0)
        #expect(o["workers"] as? [Any] != nil && o["alert_services"] as? [Any] != nil)
        // The ring is fixed: 900 points at most, oldest first.
        let sampler = MonitorSampler()
        for t in 0..<1_000 { sampler.add(.init(atMs: UInt64(t), submitted: Double(t), completed: 0, failed: 0)) }
        #expect(
            sampler.throughput.count == 900 && sampler.throughput.first?.atMs == 100
                && sampler.throughput.last?.atMs == 999)
        w.finish()
    }

    @Test func thePageAndItsFilesAreSelfContainedAndNeverFramed() throws {
        let w = try APIWorld()
        for (path, type) in [
            ("/monitor", "text/html"), ("/monitor/monitor.js", "text/javascript"), ("/monitor/monitor.css", "text/css"),
        ] {
            let r = w.request("GET", path)
            #expect(r.status == 200 && r.headers["content-type"]?.hasPrefix(type) == true, "\(path)")
            #expect(
                r.headers["content-security-policy"]
                    == "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'", "\(path)")
            #expect(r.headers["x-content-type-options"] == "nosniff")
            for pattern in ["src=\"http", "href=\"http", "url(http", "@import", "//cdn", "innerHTML"] {
                #expect(!r.body.contains(pattern), "\(path) has \(pattern)")
            }
        }
        #expect(!w.request("GET", "/monitor").body.contains("<script>"), "no inline script")
        #expect(w.request("GET", "/monitor/nope").status == 404)
        #expect(w.request("POST", "/monitor").status == 405)
        w.finish()
    }

    /// Re-driving from the monitor is off unless api-service runs with --monitor-admin; without a
    /// worker to relay to, the dead letters are 503 with why.
    @Test func redriveIsOffWithoutMonitorAdminAndNeedsAWorker() throws {
        let w = try APIWorld()
        let json = ["Content-Type: application/json"]
        let off = w.request("POST", "/monitor/api/dead-letters/redrive", body: #"{"all": true}"#, headers: json)
        #expect(off.status == 403 && off.body.contains("--monitor-admin"), "\(off.body)")
        #expect(w.request("GET", "/monitor/api/dead-letters").status == 503)
        #expect(w.request("DELETE", "/monitor/api/dead-letters").status == 405)
        w.finish()
        var config = APIHandler.Configuration()
        config.monitorAdmin = true
        let admin = try APIWorld(apiConfiguration: config)
        let form = ["Content-Type: application/x-www-form-urlencoded"]
        #expect(
            admin.request("POST", "/monitor/api/dead-letters/redrive", body: "all=true", headers: form).status == 415)
        #expect(admin.request("POST", "/monitor/api/dead-letters/redrive", body: "{}", headers: json).status == 422)
        let none = admin.request("POST", "/monitor/api/dead-letters/redrive", body: #"{"all": true}"#, headers: json)
        #expect(none.status == 503 && none.headers["retry-after"] != nil, "\(none.body)")
        admin.finish()
    }

    /// The monitor's end-to-end figures: quantiles from the buckets that grew in the last minute
    /// (what was there before does not count), from the cumulative buckets workers export.
    @Test func e2eQuantilesComeFromTheBucketsThatGrewInTheLastMinute() {
        var before = E2EHistogram()
        for _ in 0..<1_000 { before.record(seconds: 200) }  // old and slow: outside the window
        var after = before
        for _ in 0..<90 { after.record(seconds: 0.02) }
        for _ in 0..<10 { after.record(seconds: 3) }
        func buckets(_ h: E2EHistogram) -> [Double] { E2EHistogram.buckets(in: h.figures()) }
        #expect(after.figures()["task_e2e_seconds_count"] == 1_100)
        let sampler = MonitorSampler()
        #expect(sampler.e2eQuantile(0.5) == nil, "no samples, no figure")
        sampler.addE2E(atMs: 1_000, buckets: buckets(before))
        sampler.addE2E(atMs: 61_000, buckets: buckets(after))
        let p50 = try! #require(sampler.e2eQuantile(0.5))
        let p99 = try! #require(sampler.e2eQuantile(0.99))
        #expect(p50.tasks == 100)
        #expect(p50.seconds > 0.01 && p50.seconds <= 0.025, "\(p50)")
        #expect(p99.seconds > 2.5 && p99.seconds <= 5, "\(p99)")
    }
}
