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
        out.append(contentsOf: Timestamp.rfc3339(ns: event.timestampNs).utf8)
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
        numericSuffixes.contains { key.hasSuffix($0) } || numericKeys.contains(key)
    }

    static let numericSuffixes = ["_ms", "_us", "_ns", "_bytes", "_count", "_total"]
    static let numericKeys: Set<String> = [
        "attempt", "attempts", "bytes", "count", "dropped", "in_flight", "concurrency", "findings",
    ]

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
}
