// Redactor: masks what the detectors recognise in free text — the log pipeline's safety net.

/// Replaces every e-mail address and card-like number in a text with its masked form
/// (`t***@mail.com`, `************3456`). Services never log message text; this catches what slips
/// through anyway (an error that quotes its input, say) before a line leaves the process.
public struct Redactor: Sendable {
    private let detector: Detector
    private let secrets: Bool

    /// - Parameter secrets: also mask a secret keyword and the value after it (`password=hunter2`
    ///   → `p*******=*******`): for showing a whole message to a person (dead letters), where
    ///   "addresses and card numbers" — the log safety net — is not enough.
    public init(secrets: Bool = false) {
        var rules = Rules.default
        // Without `secrets`: keywords are not secrets, and what follows them is not recognisable.
        if !secrets { rules.keywords = [:] }
        self.secrets = secrets
        detector = Detector(rules: rules)
    }

    /// Masks every finding, and (with `secrets`) for a personal-data keyword the value after it
    /// too: what follows the keyword's separators (`:`, `=`, spaces, quotes) up to the next
    /// space, quote, comma or semicolon.
    public func redact(_ text: String) -> String {
        if !secrets {
            // Fast path: nothing that could be an address or a card number.
            var digits = 0
            var sawAt = false
            for byte in text.utf8 {
                if byte == UInt8(ascii: "@") {
                    sawAt = true
                    break
                }
                digits = (byte >= 48 && byte <= 57) ? digits + 1 : digits
            }
            guard sawAt || digits >= 10 else { return text }
        }
        let result = detector.scan(text, maxFindings: 10_000)
        guard !result.findings.isEmpty else { return text }
        var bytes = Array(text.utf8)
        var cutFrom = bytes.count  // replacements go back to front and never overlap
        for f in result.findings.sorted(by: { $0.byteOffset > $1.byteOffset }) {
            let end = f.byteOffset + f.byteLength
            guard end <= cutFrom else { continue }
            var replacement = Array(f.masked.utf8)
            var replaceEnd = end
            if f.code == .personalData {
                var i = end
                while i < cutFrom, Self.separators.contains(bytes[i]) { i += 1 }
                var j = i
                while j < cutFrom, !Self.valueEnds.contains(bytes[j]) { j += 1 }
                if j > i {
                    let scalars = bytes[i..<j].filter { $0 & 0xC0 != 0x80 }.count
                    replacement += bytes[end..<i] + Array(repeating: UInt8(ascii: "*"), count: min(scalars, 64))
                    replaceEnd = j
                }
            }
            bytes.replaceSubrange(f.byteOffset..<replaceEnd, with: replacement)
            cutFrom = f.byteOffset
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let separators: Set<UInt8> = Set(" \t:=\"'".utf8)
    private static let valueEnds: Set<UInt8> = Set(" \t\r\n\"',;".utf8)
}
