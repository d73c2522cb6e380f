// PrometheusTests: /metrics as a real Prometheus reads it, and the shipped Prometheus config,
// recording and alerting rules as promtool checks and unit-tests them.

import Foundation
import MeshTestSupport
import Testing

@Suite struct PrometheusTests {
    static let promDir = repositoryRoot.appendingPathComponent("compose/prometheus").path

    @Test func theShippedConfigAndRulesPassPromtool() {
        for args in [
            ["check", "config", "prometheus.yml"], ["check", "rules", "alertmesh.rules.yml"],
            ["test", "rules", "alertmesh.rules.test.yml"],
        ] {
            let r = runProcess("/bin/sh", ["-c", "cd '\(Self.promDir)' && exec /usr/bin/promtool \"$@\"", "sh"] + args)
            #expect(r.status == 0, "promtool \(args.joined(separator: " ")): \(r.stdout)\(r.stderr)")
        }
    }

    /// A real Prometheus scraping api-service, which carries the worker's and alert-service's figures
    /// too: the target is up, counters rise under load, histograms and the recording rules have series.
    @Test func aRealPrometheusScrapesTheMesh() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        try mesh.startScrapedMesh()
        let prometheus = try PrometheusServer(
            targets: ["127.0.0.1:\(mesh.httpPort)"], ruleFiles: [Self.promDir + "/alertmesh.rules.yml"])
        defer { prometheus.stop() }

        let ids = (0..<20).compactMap { mesh.submit("prometheus \($0): password=hunter\($0)") }
        #expect(ids.count == 20)
        try mesh.waitFor("the tasks to finish") { ids.allSatisfy { mesh.state($0) == "SUCCESS" } }
        func value(_ q: String) -> Double? { prometheus.query(q).first?.value }
        try mesh.waitFor("Prometheus to scrape the mesh", seconds: 30) {
            (value(#"alertmesh_tasks_total{event="succeeded"}"#) ?? 0) >= 20
        }
        #expect(value(#"up{job="alertmesh"}"#) == 1, "\(prometheus.targets())")
        let before = try #require(value(#"alertmesh_tasks_total{event="submitted"}"#))
        let more = (0..<30).compactMap { mesh.submit("more \($0)") }
        try mesh.waitFor("the counter to rise", seconds: 30) {
            (value(#"alertmesh_tasks_total{event="submitted"}"#) ?? 0) >= before + Double(more.count)
        }
        // Histograms: HTTP latency by route, and submit-to-SUCCESS from the worker.
        #expect(!prometheus.query(#"alertmesh_http_request_duration_seconds_bucket{route="/submit"}"#).isEmpty)
        #expect((value(#"sum(alertmesh_task_e2e_seconds_count)"#) ?? 0) >= 20)
        #expect(value(#"histogram_quantile(0.99, sum by (le) (alertmesh_task_e2e_seconds_bucket))"#) != nil)
        // The scraped services, and the recording rules evaluated on real series.
        #expect(value(#"alertmesh_up{service="worker"}"#) == 1)
        #expect(value(#"alertmesh_up{service="alert-service"}"#) == 1)
        #expect(value("alertmesh_worker_paused") == 0)
        try mesh.waitFor("the recording rules", seconds: 30) {
            (value("alertmesh:tasks_submitted:rate1m") ?? 0) > 0 && value("alertmesh:queue_backlog") != nil
        }
        // /metrics, with every family present after this load, is what promtool accepts (its lints
        // included: units, _total suffixes, help texts).
        let body = mesh.requestText("GET", "/metrics")
        #expect(body.contains("alertmesh_task_e2e_seconds_bucket") && body.contains("alertmesh_rpc_calls_total"))
        let file = mesh.dir + "/metrics.txt"
        try body.write(toFile: file, atomically: true, encoding: .utf8)
        let check = runProcess("/bin/sh", ["-c", "/usr/bin/promtool check metrics < '\(file)'"])
        #expect(check.status == 0, "promtool check metrics: \(check.stdout)\(check.stderr)")
        // Nothing fires on a healthy mesh.
        #expect(prometheus.query(#"ALERTS{alertstate="firing"}"#).isEmpty)
    }

    /// However many read /metrics and /monitor, each service is asked about once a second: the
    /// answers are shared for a second, and readers that come meanwhile wait for the one scrape out.
    @Test func manyReadersCostTheMeshAboutOneScrapeASecond() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        let workerSocket = try mesh.startScrapedMesh()
        func statsCalls() -> Int {
            let out = mesh.probe(workerSocket, ["stats", "--json"]).stdout
            let json = (try? JSONSerialization.jsonObject(with: Data(out.utf8))) as? [String: Any] ?? [:]
            let methods = json["methods"] as? [[String: Any]] ?? []
            let stats = methods.first { $0["method"] as? String == "_sys.Stats/Get" }
            return Int("\(stats?["calls"] ?? 0)") ?? 0
        }
        let before = statsCalls()
        let start = Date()
        for _ in 0..<100 {
            #expect(mesh.requestText("GET", "/metrics").contains("alertmesh_up{"))
            _ = mesh.request("GET", "/monitor/api/overview")
        }
        let seconds = Date().timeIntervalSince(start)
        // The probe's own call and the monitor's sampling (once a second) count too.
        let calls = statsCalls() - before
        #expect(Double(calls) <= seconds.rounded(.up) + 3, "\(calls) Stats calls in \(seconds) s for 200 reads")
    }
}
