// Report: the text of an alert report.

/// The human-readable report written for a task that raised alerts. It holds masked excerpts
/// only — never the raw secret, card number or e-mail address — and no message text.
public enum Report {
    /// The report file's name for `taskID` (which must be valid).
    public static func fileName(taskID: String) -> String { taskID + ".txt" }

    public static func render(taskID: String, time: String, result: ScanResult) -> String {
        var lines = [
            "alertmesh alert report",
            "time:     \(time)",
            "task:     \(taskID)",
            "alerts:   " + result.alerts.sorted.map(\.rawValue).joined(separator: ", "),
            "findings: \(result.findings.count)\(result.findingsTruncated ? " (more not listed)" : "")",
        ]
        for f in result.findings {
            var line = "  \(f.code.rawValue.padding(20))  at \(f.offset) length \(f.length)  \(f.masked)"
            if let luhn = f.luhnValid { line += "  luhn_valid=\(luhn)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
