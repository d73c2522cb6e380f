// LogFormat: one event as a logfmt line (files, stderr) and as an InfluxDB point (UDP).

import MeshTime

/// The two renderings of a `LogRecord`.
public enum LogFormat {
    /// `ts=2026-11-29T15:19:04.245Z level=info service=worker msg="task succeeded" task_id=… attempt=1`
    ///
    /// logfmt: a value is quoted when it is empty or holds a space, `=`, `"` or a control character;
    /// inside quotes `"` and `\` are escaped and newlines are written as `\n`, so an event is always
    /// one line.
    public static func logfmt(_ event: LogRecord, service: String, into out: inout [UInt8]) {
        out.append(contentsOf: "ts=".utf8)
        Timestamp.append(ms: Int64(event.timestampNs / 1_000_000), to: &out)
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
        var s = s
        s.withUTF8 { bytes in
            let needsQuotes =
                bytes.isEmpty
                || bytes.contains { $0 <= 32 || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\"") || $0 == 127 }
            guard needsQuotes else { return out.append(contentsOf: bytes) }
            out.append(UInt8(ascii: "\""))
            // The line protocol's escapes inside quotes; any other control byte becomes "?".
            LineProtocol.appendEscaped(bytes, into: &out) { byte in
                LineProtocol.escapeInQuotes(byte) ?? (byte < 32 || byte == 127 ? [UInt8(ascii: "?")] : nil)
            }
            out.append(UInt8(ascii: "\""))
        }
    }

    /// Metadata keys whose values are numbers in InfluxDB (always floats, so one key never changes
    /// type between points — influxd drops a point whose field type conflicts).
    public static func isNumericKey(_ key: String) -> Bool {
        switch key {
        case "attempt", "attempts", "bytes", "count", "dropped", "in_flight", "concurrency", "findings": return true
        default: break
        }
        // Compared as bytes: String.hasSuffix compares Characters, several times slower.
        let k = key.utf8
        return numericSuffixes.contains { suffix in
            k.count >= suffix.count && k.suffix(suffix.count).elementsEqual(suffix)
        }
    }

    static let numericSuffixes = ["_ms", "_us", "_ns", "_bytes", "_count", "_total"].map { Array($0.utf8) }

    /// `log_event,host=…,level=info,service=worker message="task succeeded",task_id="…",attempt=1 <ns>`
    ///
    /// Tags are the low-cardinality `service`, `level`, `host`; everything else (task ids included)
    /// is a field, so series stay few. `time` cannot be a field key in InfluxDB: it becomes `time_`.
    /// Written straight into `out` (the same text `LineProtocol.append` makes of these tags and
    /// fields, without building them first): the writer thread formats every event.
    public static func lineProtocol(_ event: LogRecord, service: String, host: String, into out: inout [UInt8]) {
        out.append(contentsOf: "log_event".utf8)
        // Tags in key order, as influxd prefers.
        LineProtocol.appendTag("host", host, to: &out)
        LineProtocol.appendTag("level", event.level, to: &out)
        LineProtocol.appendTag("service", service, to: &out)
        out.append(contentsOf: " message=".utf8)
        LineProtocol.quoted(event.message, into: &out)
        for (key, v) in event.metadata where !key.isEmpty {
            out.append(UInt8(ascii: ","))
            LineProtocol.escape(key, commaSpace: true, equals: true, slashForBackslash: true, into: &out)
            if key == "time" || key == "message" { out.append(UInt8(ascii: "_")) }
            out.append(UInt8(ascii: "="))
            if isNumericKey(key), appendNumber(v, into: &out) { continue }
            LineProtocol.quoted(v, into: &out)
        }
        LineProtocol.appendLineEnd(timestampNs: event.timestampNs, to: &out)
    }

    /// Appends `text` as an InfluxDB float field; false (nothing appended) when it is not a finite
    /// number. A plain decimal (`-12`, `3.25`) is copied as it is — without an `i` suffix
    /// influxd reads it as a float — anything else goes through `Double`.
    static func appendNumber(_ text: String, into out: inout [UInt8]) -> Bool {
        var plain = !text.isEmpty && text.utf8.count <= 18
        if plain {
            var index = 0
            var sawDot = false
            var digitsBefore = 0
            var digitsAfter = 0
            var leadingZero = false
            for byte in text.utf8 {
                defer { index += 1 }
                switch byte {
                case UInt8(ascii: "-") where index == 0: continue
                case UInt8(ascii: "."):
                    if sawDot || digitsBefore == 0 { plain = false }
                    sawDot = true
                case UInt8(ascii: "0")...UInt8(ascii: "9"):
                    if sawDot {
                        digitsAfter += 1
                    } else {
                        if digitsBefore == 0 && byte == UInt8(ascii: "0") { leadingZero = true }
                        digitsBefore += 1
                    }
                default: plain = false
                }
                if !plain { break }
            }
            // "007" and "1." are numbers to Double but not as written here.
            if digitsBefore == 0 || (sawDot && digitsAfter == 0) || (leadingZero && digitsBefore > 1) { plain = false }
        }
        if plain {
            out.append(contentsOf: text.utf8)
            return true
        }
        guard let number = Double(text), number.isFinite else { return false }
        out.append(contentsOf: String(number).utf8)
        return true
    }
}
