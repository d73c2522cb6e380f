// ReplyPace: how fast a connection's replies have lately come — whether its caller may spin for
// the next one rather than sleep (EventLoop.awaitReply).

import MeshLoop

/// A moving average of a connection's reply times: each reply moves it an eighth of the way, so
/// one slow reply does not stop the spinning, and a run of them does.
struct ReplyPace {
    /// Nanoseconds; 0 before the first reply (nothing to go by: no spin).
    private(set) var averageNs: UInt64 = 0

    mutating func note(_ ns: UInt64) {
        averageNs = averageNs == 0 ? max(ns, 1) : max(averageNs - averageNs / 8 + ns / 8, 1)
    }

    /// A reply is now awaited: the loop spins for it if replies lately came within its limit.
    func awaitReply(on loop: EventLoop) {
        if averageNs > 0 { loop.awaitReply(expectedNs: averageNs) }
    }
}
