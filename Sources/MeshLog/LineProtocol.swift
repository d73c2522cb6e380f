// LineProtocol: InfluxDB 1.x line protocol, escaped exactly as influxd 1.6 parses it.

/// A field value in a point.
public enum FieldValue: Sendable, Hashable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
}

/// Encodes points: `measurement,tag=v,tag=v field="v",n=1i 1700000000000000000\n`.
///
/// The rules, as influxd 1.6's `models/points.go` parses lines:
/// - measurement: escape `,` and space;
/// - tag keys, tag values, field keys: escape `,`, `=` and space; an empty tag value is omitted; a
///   backslash in a tag is replaced by `/` (a trailing one cannot be encoded at all);
/// - string field values: quoted, `\` → `\\`, `"` → `\"`, and newline, CR, tab written as `\n`,
///   `\r`, `\t` (a raw newline would end the line); a value is cut at 60 KiB escaped, so a line
///   always fits one datagram;
/// - integers end in `i`; lines end in LF only. Tags are sorted by key, as influxd prefers.
public enum LineProtocol {
    /// The most bytes a string field takes on the wire (escaped). influxd limits a string to 64 KiB,
    /// and a whole line must fit one UDP datagram (65,507 bytes) with its tags and other fields.
    public static let maxStringFieldBytes = 60 * 1024

    /// Appends one point, newline-terminated, to `out`. Returns false (appending nothing) when
    /// there is no field, since influxd would reject the whole datagram for it.
    @discardableResult
    public static func append(
        measurement: String, tags: [(String, String)], fields: [(String, FieldValue)], timestampNs: UInt64,
        to out: inout [UInt8]
    ) -> Bool {
        guard !fields.isEmpty else { return false }
        escape(measurement, commaSpace: true, equals: false, into: &out)
        for (k, v) in tags.sorted(by: { $0.0 < $1.0 }) { appendTag(k, v, to: &out) }
        out.append(UInt8(ascii: " "))
        for (index, (k, v)) in fields.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            escape(k, commaSpace: true, equals: true, slashForBackslash: true, into: &out)
            out.append(UInt8(ascii: "="))
            switch v {
            case .string(let s): quoted(s, into: &out)
            case .integer(let i):
                out.append(contentsOf: String(i).utf8)
                out.append(UInt8(ascii: "i"))
            case .float(let d): out.append(contentsOf: (d.isFinite ? String(d) : "0").utf8)
            case .boolean(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
            }
        }
        appendLineEnd(timestampNs: timestampNs, to: &out)
        return true
    }

    /// `,key=value` — one tag, escaped; nothing when the key or the value is empty (influxd
    /// refuses an empty tag value). Tags go in key order, which is the caller's to keep.
    static func appendTag(_ key: String, _ value: String, to out: inout [UInt8]) {
        guard !key.isEmpty && !value.isEmpty else { return }
        out.append(UInt8(ascii: ","))
        escape(key, commaSpace: true, equals: true, slashForBackslash: true, into: &out)
        out.append(UInt8(ascii: "="))
        escape(value, commaSpace: true, equals: true, slashForBackslash: true, into: &out)
    }

    /// ` <timestamp>\n`: what ends every line.
    static func appendLineEnd(timestampNs: UInt64, to out: inout [UInt8]) {
        out.append(UInt8(ascii: " "))
        appendDecimal(timestampNs, to: &out)
        out.append(UInt8(ascii: "\n"))
    }

    /// Appends `value` in decimal (a nanosecond timestamp has 19 digits: too long for a String
    /// without a heap allocation).
    static func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
        var divisor: UInt64 = 1
        while divisor <= value / 10 { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(truncatingIfNeeded: 48 + rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }

    static func escape(
        _ s: String, commaSpace: Bool, equals: Bool, slashForBackslash: Bool = false, into out: inout [UInt8]
    ) {
        var s = s
        s.withUTF8 { bytes in
            // Names and tag values almost never hold a byte to escape: one scan, then one copy,
            // instead of a checked append per byte (the writer thread formats every event).
            if !bytes.contains(where: mayNeedEscaping) { return out.append(contentsOf: bytes) }
            for b in bytes {
                switch b {
                case UInt8(ascii: ","), UInt8(ascii: " "):
                    out.append(UInt8(ascii: "\\"))
                    out.append(b)
                case UInt8(ascii: "=") where equals:
                    out.append(UInt8(ascii: "\\"))
                    out.append(b)
                case UInt8(ascii: "\\") where slashForBackslash:
                    out.append(UInt8(ascii: "/"))
                case 0x0A, 0x0D, 0x09:
                    out.append(UInt8(ascii: "_"))  // never legal in a key or tag; a name is not worth a lost datagram
                default:
                    out.append(b)
                }
            }
        }
    }

    /// A byte `escape` may change (a superset: `=` and `\\` are kept as they are in some places).
    @inline(__always)
    static func mayNeedEscaping(_ b: UInt8) -> Bool {
        b == UInt8(ascii: ",") || b == UInt8(ascii: " ") || b == UInt8(ascii: "=") || b == UInt8(ascii: "\\")
            || b == 0x0A || b == 0x0D || b == 0x09
    }

    static func quoted(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { bytes in
            out.append(UInt8(ascii: "\""))
            defer { out.append(UInt8(ascii: "\"")) }
            if bytes.count <= maxStringFieldBytes - 2 {
                // Short enough that even escaped it is never cut (checked per byte below).
                return appendEscaped(bytes, into: &out, escapeInQuotes)
            }
            let start = out.count
            for b in bytes {
                // Cut long values on a UTF-8 boundary (never inside an escape).
                if out.count - start >= maxStringFieldBytes - 2 && b & 0xC0 != 0x80 { break }
                if let escaped = escapeInQuotes(b) { out.append(contentsOf: escaped) } else { out.append(b) }
            }
        }
    }

    @inline(__always)
    static func escapeInQuotes(_ b: UInt8) -> [UInt8]? {
        switch b {
        case UInt8(ascii: "\\"): [0x5C, 0x5C]
        case UInt8(ascii: "\""): [0x5C, 0x22]
        case 0x0A: [0x5C, UInt8(ascii: "n")]
        case 0x0D: [0x5C, UInt8(ascii: "r")]
        case 0x09: [0x5C, UInt8(ascii: "t")]
        default: nil
        }
    }

    /// Appends `bytes` with each byte `escaped` maps to something replaced by it: the runs between
    /// such bytes are copied whole, not appended byte by byte (the writer thread formats every
    /// event, and most values hold no byte to escape at all).
    @inline(__always)
    static func appendEscaped(
        _ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8], _ escaped: (UInt8) -> [UInt8]?
    ) {
        var run = 0
        for i in bytes.indices {
            guard let replacement = escaped(bytes[i]) else { continue }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run..<i]))
            out.append(contentsOf: replacement)
            run = i + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[run...]))
    }
}

/// Packs whole lines into datagrams of at most `maxBytes` (never splitting a line).
///
/// A line longer than `maxBytes` is sent alone if it fits the UDP limit, otherwise dropped and
/// counted: influxd drops a whole datagram when one line fails to parse, so a line is never cut.
public struct DatagramBatcher: Sendable {
    /// The largest IPv4 UDP payload.
    public static let udpLimit = 65_507

    public let maxBytes: Int
    public private(set) var pending: [UInt8] = []
    public private(set) var droppedOversized: UInt64 = 0

    public init(maxBytes: Int = 8 * 1024) {
        self.maxBytes = min(maxBytes, DatagramBatcher.udpLimit)
    }

    /// Adds one newline-terminated line; returns the datagrams that are now complete.
    public mutating func add(_ line: [UInt8]) -> [[UInt8]] {
        guard line.count <= DatagramBatcher.udpLimit else {
            droppedOversized += 1
            return []
        }
        var ready: [[UInt8]] = []
        if !pending.isEmpty && pending.count + line.count > maxBytes {
            ready.append(pending)
            pending = []
        }
        pending.append(contentsOf: line)
        if pending.count >= maxBytes {
            ready.append(pending)
            pending = []
        }
        return ready
    }

    /// The partial datagram, if any (the flush timer calls this).
    public mutating func flush() -> [UInt8]? {
        guard !pending.isEmpty else { return nil }
        defer { pending = [] }
        return pending
    }
}
