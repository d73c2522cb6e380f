// E2EHistogram: submit-to-done time of the tasks a worker finished, as Prometheus buckets.

import MeshLoop

/// Cumulative buckets of the time from a task's stream entry (its id is Redis's clock in ms when
/// the submit was stored) to the worker storing its SUCCESS. Exported through `_sys.Stats` as
/// figures `task_e2e_seconds_bucket:le=<bound>`, `…_sum` and `…_count`, which api-service's
/// `/metrics` renders as one histogram family, so Prometheus can take quantiles across workers.
public struct E2EHistogram: Sendable {
    public static let bounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
    public private(set) var counts = [UInt64](repeating: 0, count: E2EHistogram.bounds.count)
    public private(set) var count: UInt64 = 0
    public private(set) var sum: Double = 0

    public init() {}

    /// Records the task whose stream entry is `entry` (`<ms>-<seq>`), finished now.
    public mutating func record(entry: String, nowMs: UInt64 = E2EHistogram.wallMs()) {
        guard let dash = entry.firstIndex(of: "-"), let ms = UInt64(entry[..<dash]) else { return }
        // Redis's clock and ours may differ by a little (another host): never a negative time.
        record(seconds: Double(nowMs > ms ? nowMs - ms : 0) / 1_000)
    }

    public mutating func record(seconds: Double) {
        count += 1
        sum += seconds
        if let i = Self.bounds.firstIndex(where: { seconds <= $0 }) { counts[i] += 1 }
    }

    /// The figures, cumulative, under `name`.
    public func figures(_ name: String = "task_e2e_seconds") -> [String: Double] {
        var out: [String: Double] = [:]
        var cumulative: UInt64 = 0
        let keys = Self.bucketFigures(name)
        for (i, n) in counts.enumerated() {
            cumulative += n
            out[keys[i]] = Double(cumulative)
        }
        out[keys[counts.count]] = Double(count)
        out["\(name)_sum"] = sum
        out["\(name)_count"] = Double(count)
        return out
    }

    /// The bucket figures' names, in `bounds` order, then +Inf.
    public static func bucketFigures(_ name: String = "task_e2e_seconds") -> [String] {
        bounds.map { "\(name)_bucket:le=\(format($0))" } + ["\(name)_bucket:le=+Inf"]
    }

    /// The cumulative bucket counts (`bounds`, then +Inf) in a service's `figures`; 0 where absent.
    public static func buckets(in figures: [String: Double], _ name: String = "task_e2e_seconds") -> [Double] {
        bucketFigures(name).map { figures[$0] ?? 0 }
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(v)
    }

    public static func wallMs() -> UInt64 { EventLoop.wallMs() }
}
