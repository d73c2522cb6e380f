// RecentAlerts: the last analyses that raised alerts, in memory, for /monitor.

import MeshLoop
import MeshProto

/// A fixed ring of the last `capacity` analyses whose report was written: task id, time, codes and
/// the first findings — masked excerpts only, as in the report. Memory stays bounded (50 entries of
/// at most 10 findings), nothing touches the disk or Redis, and a restart starts it empty.
struct RecentAlerts {
    static let capacity = 50
    static let findingsPerAlert = 10
    private var ring: [Alertmesh_V1_RecentAlert] = []
    private var next = 0

    mutating func add(taskID: String, response: Alertmesh_V1_AnalyzeResponse, atMs: UInt64 = EventLoop.wallMs()) {
        var entry = Alertmesh_V1_RecentAlert()
        entry.taskID = taskID
        entry.atMs = Int64(atMs)
        entry.alerts = response.alerts
        entry.findings = Array(response.findings.prefix(Self.findingsPerAlert))
        if ring.count < Self.capacity {
            ring.append(entry)
        } else {
            ring[next] = entry
            next = (next + 1) % Self.capacity
        }
    }

    /// Newest first; `limit` 0 means all kept.
    func newestFirst(limit: Int) -> [Alertmesh_V1_RecentAlert] {
        let ordered = Array((ring[next...] + ring[..<next]).reversed())
        return limit > 0 ? Array(ordered.prefix(limit)) : ordered
    }
}
