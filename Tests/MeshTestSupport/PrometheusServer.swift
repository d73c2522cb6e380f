// PrometheusServer: a real Prometheus (Debian's `prometheus`) for tests — a generated config, a
// temp dir, a free port.

public import Foundation

/// Starts `prometheus` scraping `targets` every `scrapeSeconds` and evaluating `ruleFiles`, with
/// its storage in a temp dir and its web API on a free loopback port. `stop()` kills it and removes
/// the directory.
public final class PrometheusServer: @unchecked Sendable {
    public let directory: String
    public let port: UInt16
    private let process = Process()

    public init(targets: [String], ruleFiles: [String] = [], scrapeSeconds: Int = 1) throws {
        directory = NSTemporaryDirectory() + "alertmesh-prometheus-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let probe = LoopbackSocket.listenTCP()
        port = probe.port
        probe.close()
        let config = """
            global:
              scrape_interval: \(scrapeSeconds)s
              evaluation_interval: \(scrapeSeconds)s
            rule_files: [\(ruleFiles.map { "\"\($0)\"" }.joined(separator: ", "))]
            scrape_configs:
              - job_name: alertmesh
                metrics_path: /metrics
                static_configs:
                  - targets: [\(targets.map { "\"\($0)\"" }.joined(separator: ", "))]

            """
        try config.write(toFile: directory + "/prometheus.yml", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        process.arguments = [
            "--config.file=\(directory)/prometheus.yml", "--storage.tsdb.path=\(directory)/data",
            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn",
        ]
        _ = FileManager.default.createFile(atPath: directory + "/prometheus.log", contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: directory + "/prometheus.log")
        process.standardError = FileHandle(forWritingAtPath: directory + "/prometheus.log")
        try process.run()
        for _ in 0..<600 {
            if get("/-/ready").hasPrefix("HTTP/1.1 200") { return }
            if !process.isRunning { break }
            usleep(50_000)
        }
        let text = log
        stop()
        throw NSError(
            domain: "PrometheusServer", code: 1,
            userInfo: [NSLocalizedDescriptionKey: "prometheus did not start: \(text.suffix(800))"])
    }

    public var log: String { (try? String(contentsOfFile: directory + "/prometheus.log", encoding: .utf8)) ?? "" }

    /// An instant PromQL query: each series of the vector as (labels, value).
    public func query(_ promql: String) -> [(labels: [String: String], value: Double)] {
        let text = get(
            "/api/v1/query?query=" + (promql.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
        guard let split = text.range(of: "\r\n\r\n") else { return [] }
        var body = String(text[split.upperBound...])
        if text.lowercased().contains("transfer-encoding: chunked") { body = InfluxServer.dechunk(body) }
        guard let json = (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any],
            let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]]
        else { return [] }
        return result.compactMap { r in
            guard let labels = r["metric"] as? [String: String], let v = r["value"] as? [Any], v.count == 2,
                let s = v[1] as? String, let value = Double(s)
            else { return nil }
            return (labels, value)
        }
    }

    /// The targets' health as Prometheus saw them (`/api/v1/targets`), raw JSON text.
    public func targets() -> String { get("/api/v1/targets") }

    private func get(_ path: String) -> String {
        let c = BlockingClient(port: port, receiveTimeoutSeconds: 5)
        defer { c.close() }
        c.send("GET \(path) HTTP/1.1\r\nHost: prometheus\r\nConnection: close\r\n\r\n")
        return c.receive().text
    }

    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
