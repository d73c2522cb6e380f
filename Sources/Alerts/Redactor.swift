// Redactor: masks what the detectors recognise in free text — the log pipeline's safety net.

/// Replaces every e-mail address and card-like number in a text with its masked form
/// (`t***@mail.com`, `************3456`). Services never log message text; this catches what slips
/// through anyway (an error that quotes its input, say) before a line leaves the process.
public struct Redactor: Sendable {
    private let detector: Detector

    public init() {
        var rules = Rules.default
        rules.keywords = [:]  // keywords are not secrets; what follows them is not recognisable
        detector = Detector(rules: rules)
    }

    public func redact(_ text: String) -> String {
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
        let result = detector.scan(text, maxFindings: 10_000)
        guard !result.findings.isEmpty else { return text }
        var bytes = Array(text.utf8)
        for finding in result.findings.sorted(by: { $0.byteOffset > $1.byteOffset }) {
            bytes.replaceSubrange(
                finding.byteOffset..<(finding.byteOffset + finding.byteLength), with: Array(finding.masked.utf8))
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
