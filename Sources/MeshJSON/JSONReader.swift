// JSONReader: the one JSON shape on a hot path read by hand (everything else is JSONDecoder's).

/// Reads `{"<name>": "<string>"}` directly when it is that simple — the body nearly every submit
/// has — and says nil for anything else, which the caller then gives to `JSONDecoder` (and lets
/// it judge). `JSONDecoder`'s fixed cost per document is large next to a short message; a
/// differential test over mutated bodies holds this reader to its answers.
public enum JSONReader {
    /// The string member `name` of a one-member object, when the string has no escape and the
    /// document nothing else (whitespace aside); nil otherwise, never a wrong answer.
    public static func plainStringMember(_ name: StaticString, of body: [UInt8]) -> String? {
        body.withUnsafeBufferPointer { b -> String? in
            var i = 0
            func skipSpace() {
                while i < b.count, b[i] == 0x20 || b[i] == 0x0A || b[i] == 0x0D || b[i] == 0x09 { i += 1 }
            }
            func take(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
                guard i + bytes.count <= b.count else { return false }
                for k in 0..<bytes.count where b[i + k] != bytes[k] { return false }
                i += bytes.count
                return true
            }
            func take(_ byte: UInt8) -> Bool {
                guard i < b.count, b[i] == byte else { return false }
                i += 1
                return true
            }
            skipSpace()
            guard take(UInt8(ascii: "{")) else { return nil }
            skipSpace()
            guard take(UInt8(ascii: "\"")), name.withUTF8Buffer({ take($0) }), take(UInt8(ascii: "\"")) else {
                return nil
            }
            skipSpace()
            guard take(UInt8(ascii: ":")) else { return nil }
            skipSpace()
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = i
            // A quote ends the string; a backslash (an escape) or a control character (invalid
            // JSON) leaves the body to JSONDecoder.
            while i < b.count, b[i] != 0x22 {
                if b[i] == 0x5C || b[i] < 0x20 { return nil }
                i += 1
            }
            guard i < b.count else { return nil }
            let end = i
            i += 1
            skipSpace()
            guard take(UInt8(ascii: "}")) else { return nil }
            skipSpace()
            guard i == b.count else { return nil }
            // Invalid UTF-8 is JSONDecoder's to refuse.
            return String(validating: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
        }
    }
}
