// Report: the text of an alert report and the rule for task ids that name report files.

/// Task ids name files, so they are restricted to a safe alphabet: 1–128 of `[A-Za-z0-9_-]`.
/// No dots, slashes or NULs: no `..`, no separators, no hidden files, no path traversal.
public enum TaskID {
    public static let maxLength = 128

    public static func isValid(_ id: String) -> Bool {
        let u = id.utf8
        guard !u.isEmpty, u.count <= maxLength else { return false }
        return u.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
        }
    }

    public static let rule = "1-128 characters of [A-Za-z0-9_-]"
}

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
