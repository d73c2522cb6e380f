// Timestamp: RFC 3339 text for times — log lines, reports, and the API's task timestamps.

/// RFC 3339 timestamps in UTC with milliseconds (`2026-11-29T15:19:04.245Z`), without locale or
/// time zone database (Howard Hinnant's civil-from-days).
public enum Timestamp {
    /// From milliseconds since the epoch.
    public static func rfc3339(ms: Int64) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        append(ms: ms, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the 24 bytes of `rfc3339(ms:)` to `out` — the log writer's form: no String, no
    /// allocation once `out` has room.
    public static func append(ms: Int64, to out: inout [UInt8]) {
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
        func digits(_ v: Int64, _ width: Int) {
            // Years outside 0...9999 are written in full (RFC 3339 has no room for them anyway).
            if v < 0 || (width == 4 && v > 9999) {
                out.append(contentsOf: String(v).utf8)
                return
            }
            var divisor: Int64 = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = v
            while divisor > 0 {
                out.append(UInt8(truncatingIfNeeded: 48 + rest / divisor))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(year, 4)
        out.append(UInt8(ascii: "-"))
        digits(month, 2)
        out.append(UInt8(ascii: "-"))
        digits(day, 2)
        out.append(UInt8(ascii: "T"))
        digits(secondOfDay / 3600, 2)
        out.append(UInt8(ascii: ":"))
        digits(secondOfDay / 60 % 60, 2)
        out.append(UInt8(ascii: ":"))
        digits(secondOfDay % 60, 2)
        out.append(UInt8(ascii: "."))
        digits(millis, 3)
        out.append(UInt8(ascii: "Z"))
    }
}
