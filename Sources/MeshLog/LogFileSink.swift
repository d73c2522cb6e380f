// LogFileSink: the service's log file — appended to, rotated by size, reopened after logrotate.

import Glibc

/// The log file of one service, touched only by the writer thread.
///
/// Lines are appended with `O_APPEND`; past `maxFileBytes` the file is rotated (`service.log.1` …
/// `service.log.N`, the oldest dropped) before the batch that would overflow it. `reopen()` starts
/// a new file under the same name (after logrotate moved the old one: SIGHUP).
final class LogFileSink {
    let path: String
    let maxFileBytes: Int
    let keptFiles: Int
    private var fd: Int32 = -1
    private var size = 0
    /// Counters since the last `takeStats`: bytes written, write errors, rotations.
    private var bytes: UInt64 = 0
    private var errors: UInt64 = 0
    private var rotations: UInt64 = 0

    init(path: String, maxFileBytes: Int, keptFiles: Int) throws(LogError) {
        self.path = path
        self.maxFileBytes = maxFileBytes
        self.keptFiles = keptFiles
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !dir.isEmpty { Self.makeDirectories(dir) }
        try open()
    }

    var isOpen: Bool { fd >= 0 }

    /// Whether the file must rotate before `count` more bytes join the `pending` ones not yet
    /// written: when they would pass the limit and the file would not be empty without them.
    func mustRotate(pending: Int, adding count: Int) -> Bool {
        size + pending + count > maxFileBytes && size + pending > 0
    }

    private func open() throws(LogError) {
        let f = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard f >= 0 else { throw LogError("open(\(path)): \(String(cString: strerror(errno)))") }
        fd = f
        var st = stat()
        fstat(f, &st)
        size = Int(st.st_size)
    }

    func reopen() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        do {
            try open()
        } catch {
            errors += 1
        }
    }

    func rotate() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        if keptFiles > 0 {
            for i in stride(from: keptFiles - 1, through: 1, by: -1) { rename("\(path).\(i)", "\(path).\(i + 1)") }
            rename(path, "\(path).1")
        } else {
            unlink(path)
        }
        rotations += 1
        reopen()
    }

    func write(_ bytes: [UInt8]) {
        guard fd >= 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                errors += 1
                return
            }
            offset += n
        }
        size += bytes.count
        self.bytes += UInt64(bytes.count)
    }

    /// Adds the counters since the last call to `stats`.
    func takeStats(into stats: inout LogShipper.Stats) {
        stats.fileBytes += bytes
        stats.fileErrors += errors
        stats.rotations += rotations
        (bytes, errors, rotations) = (0, 0, 0)
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    static func makeDirectories(_ path: String) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            mkdir(current, 0o755)
        }
    }
}
