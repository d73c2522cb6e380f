// TaskResult: what a successful task stores and GET /status shows as `result`.

import MeshJSON

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
    /// Sorted alert codes (`api_key_detected`, `card_number_detected`, …, `private_key_detected`).
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

    /// The stored JSON: keys sorted, no spaces — what `JSONEncoder` with `.sortedKeys` and
    /// `.withoutEscapingSlashes` writes (a test holds the two together), written directly: the
    /// encoder's boxing of every value cost a fifth of the worker's CPU.
    public func json() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + alerts.count * 24 + findings.count * 96)
        out.append(contentsOf: #"{"alerts":["#.utf8)
        for (i, alert) in alerts.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(alert, to: &out)
        }
        out.append(contentsOf: #"],"findings":["#.utf8)
        for (i, f) in findings.enumerated() {
            out.append(contentsOf: (i > 0 ? #",{"code":"# : #"{"code":"#).utf8)
            JSONText.appendString(f.code, to: &out)
            out.append(contentsOf: #","length":"#.utf8)
            JSONText.appendInt(f.length, to: &out)
            if let luhn = f.luhnValid {
                out.append(contentsOf: #","luhn_valid":"#.utf8)
                JSONText.appendBool(luhn, to: &out)
            }
            out.append(contentsOf: #","masked":"#.utf8)
            JSONText.appendString(f.masked, to: &out)
            out.append(contentsOf: #","offset":"#.utf8)
            JSONText.appendInt(f.offset, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: #"],"findings_truncated":"#.utf8)
        JSONText.appendBool(findingsTruncated, to: &out)
        out.append(contentsOf: #","status":"#.utf8)
        JSONText.appendString(status, to: &out)
        out.append(UInt8(ascii: "}"))
        return out
    }
}
