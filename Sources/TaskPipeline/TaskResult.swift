// TaskResult: what a successful task stores and GET /status shows as `result`.

import FoundationEssentials

/// The result of a task: the alert codes and the findings, already masked by the detectors.
/// Encoded as JSON once by the worker, stored as is, and embedded verbatim in `/status` answers.
public struct TaskResult: Codable, Sendable, Hashable {
    public struct Finding: Codable, Sendable, Hashable {
        public var code: String
        /// The masked text (never the raw secret, card number or e-mail address).
        public var masked: String
        /// Offset and length in characters (Unicode scalars) of the message.
        public var offset: Int
        public var length: Int
        public var luhnValid: Bool?

        public init(code: String, masked: String, offset: Int, length: Int, luhnValid: Bool? = nil) {
            self.code = code
            self.masked = masked
            self.offset = offset
            self.length = length
            self.luhnValid = luhnValid
        }

        enum CodingKeys: String, CodingKey {
            case code, masked, offset, length
            case luhnValid = "luhn_valid"
        }
    }

    /// `processed`, as the old system said.
    public var status: String
    /// Sorted alert codes (`card_number_detected`, `email_detected`, `personal_data`, …).
    public var alerts: [String]
    public var findings: [Finding]
    /// Whether findings were cut at the detector's cap (the alerts are complete either way).
    public var findingsTruncated: Bool

    public init(status: String = "processed", alerts: [String], findings: [Finding], findingsTruncated: Bool = false) {
        self.status = status
        self.alerts = alerts
        self.findings = findings
        self.findingsTruncated = findingsTruncated
    }

    enum CodingKeys: String, CodingKey {
        case status, alerts, findings
        case findingsTruncated = "findings_truncated"
    }

    public func json() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(self)) ?? Data(#"{"status":"processed"}"#.utf8))
    }
}
