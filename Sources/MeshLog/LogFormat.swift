// LogFormat: one event as a logfmt line (files, stderr) and as an InfluxDB point (UDP).

/// The two renderings of a `LogRecord`.
public enum LogFormat {
    /// `ts=2026-11-29T15:19:04.245Z level=info service=worker msg="task succeeded" task_id=… attempt=1`
    ///
    /// logfmt: a value is quoted when it is empty or holds a space, `=`, `"` or a control character;
    /// inside quotes `"` and `\` are escaped and newlines are written as `\n`, so an event is always
    /// one line.
    public static func logfmt(_ event: LogRecord, service: String, into out: inout [UInt8]) {
        out.append(contentsOf: "ts=".utf8)
        out.append(contentsOf: rfc3339(ns: event.timestampNs).utf8)
        out.append(contentsOf: " level=".utf8)
        out.append(contentsOf: event.level.utf8)
        out.append(contentsOf: " service=".utf8)
        value(service, into: &out)
        out.append(contentsOf: " msg=".utf8)
        value(event.message, into: &out)
        for (key, v) in event.metadata {
            out.append(UInt8(ascii: " "))
            for byte in key.utf8 where byte > 32 && byte != UInt8(ascii: "=") && byte != UInt8(ascii: "\"") {
                out.append(byte)
            }
            out.append(UInt8(ascii: "="))
            value(v, into: &out)
        }
        out.append(10)
    }

    static func value(_ s: String, into out: inout [UInt8]) {
        let needsQuotes =
            s.isEmpty
            || s.utf8.contains { $0 <= 32 || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") || $0 == 127 }
        guard needsQuotes else { return out.append(contentsOf: s.utf8) }
        out.append(UInt8(ascii: "\""))
        for byte in s.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
            case 10: out.append(contentsOf: [92, UInt8(ascii: "n")])
            case 13: out.append(contentsOf: [92, UInt8(ascii: "r")])
            case 9: out.append(contentsOf: [92, UInt8(ascii: "t")])
            case 0..<32, 127: out.append(UInt8(ascii: "?"))
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Metadata keys whose values are numbers in InfluxDB (always floats, so one key never changes
    /// type between points — influxd drops a point whose field type conflicts).
    public static func isNumericKey(_ key: String) -> Bool {
        for suffix in ["_ms", "_us", "_ns", "_bytes", "_count", "_total"] where key.hasSuffix(suffix) { return true }
        return ["attempt", "attempts", "bytes", "count", "dropped", "in_flight", "concurrency", "findings"]
            .contains(key)
    }

    /// `log_event,host=…,level=info,service=worker message="task succeeded",task_id="…",attempt=1 <ns>`
    ///
    /// Tags are the low-cardinality `service`, `level`, `host`; everything else (task ids included)
    /// is a field, so series stay few. `time` cannot be a field key in InfluxDB: it becomes `time_`.
    public static func lineProtocol(_ event: LogRecord, service: String, host: String, into out: inout [UInt8]) {
        var fields: [(String, FieldValue)] = [("message", .string(event.message))]
        fields.reserveCapacity(event.metadata.count + 1)
        for (key, v) in event.metadata where !key.isEmpty {
            let name = key == "time" || key == "message" ? key + "_" : key
            if isNumericKey(key), let number = Double(v), number.isFinite {
                fields.append((name, .float(number)))
            } else {
                fields.append((name, .string(v)))
            }
        }
        LineProtocol.append(
            measurement: "log_event", tags: [("service", service), ("level", event.level), ("host", host)],
            fields: fields, timestampNs: event.timestampNs, to: &out)
    }

    /// RFC 3339, UTC, milliseconds: `2026-11-29T15:19:04.245Z`.
    public static func rfc3339(ns: UInt64) -> String {
        let ms = Int64(ns / 1_000_000)
        let seconds = ms / 1000
        let days = seconds / 86_400
        let secondOfDay = seconds - days * 86_400
        // Civil-from-days (Howard Hinnant): no locale, no time zone database.
        let z = days + 719_468
        let era = z / 146_097
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
        pad(ms % 1000, 3)
        s.append("Z")
        return s
    }
}
