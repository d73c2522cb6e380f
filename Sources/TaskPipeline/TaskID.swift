// TaskID: the rule for task ids — they travel in URLs, Redis keys, RPC metadata and file names.

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
