// BusyDisk: a disk kept busy by a background writer, as on a loaded CI machine or a shared host.

import Foundation

/// Writes 64 MiB with direct I/O and a flush, over and over, into `directory` until `stop()`: the
/// device queue stays full, so every fsync of another process on that disk waits behind it. That is
/// when Redis with `appendfsync everysec` holds its AOF writes back (and acknowledges what is not on
/// disk); a durability test that passes on an idle disk proves little.
public final class BusyDisk {
    private let process = Process()
    private let file: String

    public init(directory: String) throws {
        file = directory + "/busy-disk.bin"
        // Foundation starts a child in a process group of its own, which the shell's dd joins: stop()
        // ends both with one signal to the group.
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c",
            "while :; do dd if=/dev/zero of=\"$0\" bs=1M count=64 oflag=direct conv=fdatasync 2>/dev/null; done", file,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// How long an fsync of a small append takes in `directory` now, in ms (to show the disk is busy).
    public static func fsyncMs(in directory: String) -> Double {
        let path = directory + "/fsync-probe.bin"
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard fd >= 0 else { return -1 }
        defer {
            close(fd)
            unlink(path)
        }
        let bytes = [UInt8](repeating: 0x61, count: 2_048)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let start = DispatchTime.now().uptimeNanoseconds
        fdatasync(fd)
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    }

    public func stop() {
        guard process.isRunning else { return }
        kill(-process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: file)
    }

    deinit { stop() }
}
