// JSONText: JSON written by hand for the few documents on hot paths (reading stays JSONDecoder's).

/// JSON text out, byte by byte: string escaping (RFC 8259 §7), numbers, literals.
///
/// The API's answers and the worker's stored results are a handful of fixed shapes; writing them
/// directly costs a fraction of `JSONEncoder`'s boxing of every value, on the path every task takes.
public enum JSONText {
    /// Appends `s` quoted: `"`, `\` and control characters escaped (`\n`, `\r`, `\t`, else
    /// `\u00XX`), everything else — `/` and non-ASCII included — as it is.
    public static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            // Most strings need no escape at all: copy them whole.
            guard bytes.contains(where: { $0 < 32 || $0 == 34 || $0 == 92 || $0 == 127 }) else {
                out.append(contentsOf: bytes)
                return
            }
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "\""): out.append(contentsOf: [92, 34])
                case UInt8(ascii: "\\"): out.append(contentsOf: [92, 92])
                case 10: out.append(contentsOf: [92, UInt8(ascii: "n")])
                case 13: out.append(contentsOf: [92, UInt8(ascii: "r")])
                case 9: out.append(contentsOf: [92, UInt8(ascii: "t")])
                case 0..<32, 127:
                    out.append(contentsOf: [92, UInt8(ascii: "u"), 48, 48, hexDigit(byte >> 4), hexDigit(byte & 15)])
                default: out.append(byte)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    /// Appends an integer in decimal.
    public static func appendInt(_ value: Int, to out: inout [UInt8]) {
        out.append(contentsOf: String(value).utf8)
    }

    /// Appends `true` or `false`.
    public static func appendBool(_ value: Bool, to out: inout [UInt8]) {
        out.append(contentsOf: (value ? "true" : "false").utf8)
    }

    @inline(__always) static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? 48 + nibble : 87 + nibble
    }
}
