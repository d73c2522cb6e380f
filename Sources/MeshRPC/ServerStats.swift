// ServerStats: what a server counts — connections, bytes, and per-method outcomes and latency.

import Histogram
import MeshProto
import MeshWire

/// Counters behind `_sys.Stats/Get`. Loop-confined like the server that owns it.
struct ServerStats {
    struct Method {
        let name: String
        var calls: UInt64 = 0
        var byStatus = [UInt64](repeating: 0, count: StatusCode.allCases.count)
        /// Latency in microseconds, 1 µs to 10 min at 3 significant digits.
        var latency = Histogram<UInt64>(highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: .three)
    }

    var connectionsOpen: UInt64 = 0
    var connectionsTotal: UInt64 = 0
    var callsInFlight: UInt64 = 0
    var protocolErrors: UInt64 = 0
    /// Bytes of connections already closed; live ones are added at snapshot time.
    var closedBytesIn: UInt64 = 0
    var closedBytesOut: UInt64 = 0
    /// Per method, in the order methods got their slot: a call records into its method's slot by
    /// index (given at registration), not by hashing the method's name three times per call;
    /// `slots` finds a name's slot when one is made.
    private var methods: [Method] = []
    private var slots: [String: Int] = [:]

    /// The slot of `method`'s figures, made on first use.
    mutating func slot(for method: String) -> Int {
        if let slot = slots[method] { return slot }
        slots[method] = methods.count
        methods.append(Method(name: method))
        return methods.count - 1
    }

    mutating func record(slot: Int, status: StatusCode, latencyNs: UInt64) {
        methods[slot].calls += 1
        methods[slot].byStatus[Int(status.rawValue)] += 1
        _ = methods[slot].latency.record(max(1, latencyNs / 1_000))
    }

    mutating func record(method: String, status: StatusCode, latencyNs: UInt64) {
        record(slot: slot(for: method), status: status, latencyNs: latencyNs)
    }

    /// The methods called at least once, by name.
    func methodStats() -> [Alertmesh_V1_MethodStats] {
        methods.filter { $0.calls > 0 }.sorted { $0.name < $1.name }.map { m in
            var s = Alertmesh_V1_MethodStats()
            s.method = m.name
            s.calls = m.calls
            for code in StatusCode.allCases where m.byStatus[Int(code.rawValue)] > 0 {
                s.byStatus[code.name] = m.byStatus[Int(code.rawValue)]
            }
            if m.latency.totalCount > 0 {
                s.latencyP50Ms = Double(m.latency.valueAtPercentile(50)) / 1_000
                s.latencyP90Ms = Double(m.latency.valueAtPercentile(90)) / 1_000
                s.latencyP99Ms = Double(m.latency.valueAtPercentile(99)) / 1_000
                s.latencyMaxMs = Double(m.latency.max) / 1_000
            }
            return s
        }
    }
}
