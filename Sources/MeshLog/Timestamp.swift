// Timestamp: RFC 3339 text for times — log lines, and the API's task timestamps.

/// RFC 3339 timestamps in UTC with milliseconds (`2026-11-29T15:19:04.245Z`), without locale or
/// time zone database (Howard Hinnant's civil-from-days).
public enum Timestamp {
    /// From milliseconds since the epoch.
    public static func rfc3339(ms: Int64) -> String {
        let seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000
        let millis = ms - seconds * 1000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        var s = ""
        s.reserveCapacity(24)
        func pad(_ v: Int64, _ width: Int) {
            let digits = String(v)
            for _ in digits.count..<width { s.append("0") }
            s.append(digits)
        }
        pad(year, 4)
        s.append("-")
        pad(month, 2)
        s.append("-")
        pad(day, 2)
        s.append("T")
        pad(secondOfDay / 3600, 2)
        s.append(":")
        pad(secondOfDay / 60 % 60, 2)
        s.append(":")
        pad(secondOfDay % 60, 2)
        s.append(".")
        pad(millis, 3)
        s.append("Z")
        return s
    }

    /// From nanoseconds since the epoch.
    public static func rfc3339(ns: UInt64) -> String { rfc3339(ms: Int64(ns / 1_000_000)) }
}
