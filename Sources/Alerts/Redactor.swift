// Redactor: masks what the detectors recognise in free text — the log pipeline's safety net.

/// Replaces every e-mail address, card-like number, IBAN, phone number, API key, JWT and private key
/// in a text with its masked form (`t***@mail.com`, `**** **** **** 3456`, `ghp_…a1b2`; a private
/// key loses its whole body, up to its END line). Services never log message text; this catches
/// what slips through anyway (an error that quotes its input, say) before a line leaves the process.
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
        let result = detector.scan(text, maxFindings: 10_000)
        guard !result.findings.isEmpty else { return text }
        var bytes = Array(text.utf8)
        // Where findings overlap (an IBAN's digits are a card-like run too) the one that starts
        // first, and of those the longest, is masked whole; replacements then go back to front.
        var chosen: [Finding] = []
        for f in result.findings.sorted(by: { ($0.byteOffset, -$0.byteLength) < ($1.byteOffset, -$1.byteLength) }) {
            if let last = chosen.last, f.byteOffset < last.byteOffset + last.byteLength { continue }
            chosen.append(f)
        }
        var cutFrom = bytes.count
        for f in chosen.reversed() {
            let end = f.byteOffset + f.byteLength
            var replacement = Array(f.masked.utf8)
            var replaceEnd = end
            if f.code == .privateKeyDetected {
                // Everything up to the end of the END line (or of the text) is key material.
                replacement += Array("…".utf8)
                replaceEnd = cutFrom
                let end = Array("-----END ".utf8), dashes = Array("-----".utf8)
                if let e = Self.find(end, in: bytes, from: f.byteOffset + f.byteLength, to: cutFrom),
                    let d = Self.find(dashes, in: bytes, from: e + end.count, to: cutFrom)
                {
                    replaceEnd = d + dashes.count
                }
            } else if f.code == .personalData {
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

    private static func find(_ needle: [UInt8], in bytes: [UInt8], from: Int, to: Int) -> Int? {
        guard to - from >= needle.count else { return nil }
        return (from...(to - needle.count)).first { bytes[$0..<$0 + needle.count].elementsEqual(needle) }
    }

    private static let separators: Set<UInt8> = Set(" \t:=\"'".utf8)
    private static let valueEnds: Set<UInt8> = Set(" \t\r\n\"',;".utf8)
}
