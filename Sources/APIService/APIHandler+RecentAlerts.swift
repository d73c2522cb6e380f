// APIHandler+RecentAlerts: /monitor's recent alerts — each scraped alert-service's last analyses
// with alerts (alertmesh.v1.AlertService/Recent), merged newest first.

import AlertContract
import FoundationEssentials
import MeshHTTP
import MeshProto
import MeshRPC

extension APIHandler {
    /// GET /monitor/api/recent-alerts: the newest 50 across every alert-service: time, task id,
    /// codes and masked excerpts (never message text). An alert-service that does not answer is
    /// left out (and shown as down in the overview).
    func recentAlerts(_ respond: @escaping (HTTPResponse) -> Void) {
        recentReading.get { result in
            respond(Self.monitorJSON(MonitorRecentAlerts(alerts: (try? result.get()) ?? [])))
        }
    }

    /// Asks every scraped alert-service for its recent alerts, in parallel; merged newest first.
    func readRecentAlerts(_ completion: @escaping (Result<[MonitorRecentAlert], Never>) -> Void) {
        let clients = scraper?.clients(of: "alert-service") ?? []
        guard !clients.isEmpty else { return completion(.success([])) }
        var rows: [MonitorRecentAlert] = []
        var remaining = clients.count
        for client in clients {
            client.call(AlertServiceMethods.recent, Alertmesh_V1_RecentAlertsRequest(), timeoutMs: 1_000) { result in
                if case .success(let answer) = result {
                    rows += answer.alerts.map {
                        MonitorRecentAlert(
                            taskID: $0.taskID, atMs: $0.atMs, alerts: $0.alerts,
                            findings: $0.findings.map { f in [f.code, f.masked] })
                    }
                }
                remaining -= 1
                guard remaining == 0 else { return }
                completion(.success(Array(rows.sorted { $0.atMs > $1.atMs }.prefix(50))))
            }
        }
    }
}

struct MonitorRecentAlert: Encodable {
    var taskID: String
    var atMs: Int64
    var alerts: [String]
    /// [code, masked excerpt] pairs.
    var findings: [[String]]
    enum CodingKeys: String, CodingKey {
        case taskID = "task_id"
        case atMs, alerts, findings
    }
}

struct MonitorRecentAlerts: Encodable {
    var alerts: [MonitorRecentAlert]
}
