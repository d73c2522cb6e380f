// MessagePace: how fast a connection's awaited messages have lately come — whether the loop may
// spin for the next one rather than sleep (EventLoop.awaitMessage).

import MeshLoop

/// A moving average of how long a connection's awaited messages took — a client's replies, or a
/// server's next request after it answered the last — each moving it an eighth of the way, so one
/// slow message does not stop the spinning, and a run of them does.
struct MessagePace {
    /// Nanoseconds; 0 before the first (nothing to go by: no spin).
    private(set) var averageNs: UInt64 = 0

    mutating func note(_ ns: UInt64) {
        averageNs = averageNs == 0 ? max(ns, 1) : max(averageNs - averageNs / 8 + ns / 8, 1)
    }

    /// A message is now awaited: the loop spins for it if such messages lately came within its
    /// limit.
    func awaitNext(on loop: EventLoop) {
        if averageNs > 0 { loop.awaitMessage(expectedNs: averageNs) }
    }
}
