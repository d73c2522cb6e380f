// WallClock: the time of day and a monotonic reading, from clock_gettime — the one place that asks.

import Glibc

/// Readings of the system clocks.
///
/// `CLOCK_REALTIME` is what people and other machines agree on (log timestamps, report times,
/// the load generator's end-to-end figures against a task's `updated_at`); it may jump.
/// `CLOCK_MONOTONIC` never jumps and is what intervals are measured with.
public enum WallClock {
    /// Nanoseconds since the epoch (`CLOCK_REALTIME`).
    public static func nowNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Milliseconds since the epoch (`CLOCK_REALTIME`).
    public static func nowMs() -> Int64 { Int64(nowNs() / 1_000_000) }

    /// Nanoseconds of `CLOCK_MONOTONIC`: for intervals, never for dates.
    public static func monotonicNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// The time of day as RFC 3339 text with milliseconds (`2026-11-29T15:19:04.245Z`).
    public static func rfc3339() -> String { Timestamp.rfc3339(ms: nowMs()) }
}
