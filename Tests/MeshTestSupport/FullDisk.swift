// FullDisk: a real full filesystem — a small tmpfs, filled — for tests of what ENOSPC does.

import Foundation

/// A tmpfs of `kib` KiB mounted on a fresh temp directory and filled up, so writes under `path`
/// fail with ENOSPC. Needs root (CI runs as root); `init` returns nil where mounting is not allowed.
public final class FullDisk {
    public let path: String
    private let filler: String
    private var mounted = true

    public init?(kib: Int = 256) {
        path = NSTemporaryDirectory() + "alertmesh-full-\(UUID().uuidString.prefix(8))"
        filler = path + "/.filler"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kib)k", "tmpfs", path]).status == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            return nil
        }
        _ = runProcess("/bin/dd", ["if=/dev/zero", "of=" + filler, "bs=4k"])
    }

    /// Frees the space: writes succeed again.
    public func free() { try? FileManager.default.removeItem(atPath: filler) }

    public func remove() {
        guard mounted else { return }
        mounted = false
        _ = runProcess("/bin/umount", ["-l", path])
        try? FileManager.default.removeItem(atPath: path)
    }

    deinit { remove() }
}
