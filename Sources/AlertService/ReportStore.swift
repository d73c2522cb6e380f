// ReportStore: writes each task's report once, atomically, or fails with the call that failed.

import Alerts
import Glibc

/// A failed report write, naming the system call and path: `open(/srv/reports/.t1.tmp): EACCES …`.
public struct ReportError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var path: String
    public var errno: Int32

    public var description: String { "\(call)(\(path)): \(String(cString: strerror(errno)))" }
}

/// Reports under one directory. Writing is atomic and idempotent: the content goes to a hidden
/// temp file, is fsynced, then hard-linked to its final name — `link` fails if the name exists,
/// so a retried or duplicated task never replaces or tears a report — and the directory is fsynced.
/// A reader therefore sees either no report or the whole one.
///
/// Blocking: call it from `ThreadPool`, never on the loop.
public struct ReportStore: Sendable {
    public enum Outcome: Sendable, Equatable {
        case written
        case alreadyExisted
    }

    public let directory: String

    /// Creates the directory (and parents) if needed.
    public init(directory: String) throws(ReportError) {
        self.directory = directory
        var prefix = directory.hasPrefix("/") ? "/" : ""
        for part in directory.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            if mkdir(prefix, 0o750) != 0 && Glibc.errno != EEXIST {
                throw ReportError(call: "mkdir", path: prefix, errno: Glibc.errno)
            }
        }
        guard access(directory, W_OK) == 0 else {
            throw ReportError(call: "access", path: directory, errno: Glibc.errno)
        }
    }

    public func path(taskID: String) -> String { directory + "/" + Report.fileName(taskID: taskID) }

    /// Writes `content` as the report of `taskID` unless that report exists already.
    public func write(taskID: String, content: String) throws(ReportError) -> Outcome {
        precondition(TaskID.isValid(taskID), "task id must be validated before it names a file")
        let final = path(taskID: taskID)
        if access(final, F_OK) == 0 { return .alreadyExisted }
        let bytes = Array(content.utf8)
        let outcome: Outcome
        if let linked = try writeUnnamed(bytes, final: final) {
            outcome = linked
        } else {
            outcome = try writeThroughTempName(bytes, taskID: taskID, final: final)
        }
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
        return outcome
    }

    /// Linux's `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`; Swift does not import the macro).
    static let openTmpFile: Int32 = 0o20000000 | O_DIRECTORY

    /// Writes an unnamed file in the directory (`O_TMPFILE`), fsyncs it, then gives it its name
    /// with `linkat` — which, like `link`, refuses to replace. No temporary name is created and
    /// deleted, so the file system does no directory churn (profiled: with temp names, ext4 spent
    /// most of alert-service's CPU scanning recently deleted inodes).
    ///
    /// - Returns: nil when the file system has no `O_TMPFILE` (the caller falls back).
    private func writeUnnamed(_ bytes: [UInt8], final: String) throws(ReportError) -> Outcome? {
        let fd = open(directory, ReportStore.openTmpFile | O_WRONLY | O_CLOEXEC, 0o640)
        if fd < 0 {
            let e = Glibc.errno
            if e == EOPNOTSUPP || e == EISDIR || e == EINVAL || e == ENOENT && access(directory, F_OK) == 0 {
                return nil
            }
            throw ReportError(call: "open", path: directory + ", O_TMPFILE", errno: e)
        }
        defer { close(fd) }
        try writeAll(bytes, fd: fd, path: directory + "/(unnamed)")
        if fsync(fd) != 0 { throw ReportError(call: "fsync", path: directory + "/(unnamed)", errno: Glibc.errno) }
        if linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, final, AT_SYMLINK_FOLLOW) != 0 {
            let e = Glibc.errno
            if e == EEXIST { return .alreadyExisted }
            if e == ENOENT && access("/proc/self/fd", F_OK) != 0 { return nil }  // no /proc
            throw ReportError(call: "linkat", path: final, errno: e)
        }
        return .written
    }

    /// The portable way: a hidden temporary name, fsync, `link` to the final name, unlink.
    private func writeThroughTempName(_ bytes: [UInt8], taskID: String, final: String) throws(ReportError) -> Outcome {
        let temp = directory + "/.\(taskID).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw ReportError(call: "open", path: temp, errno: Glibc.errno) }
        var failure: ReportError?
        do {
            try writeAll(bytes, fd: fd, path: temp)
        } catch {
            failure = error
        }
        if failure == nil && fsync(fd) != 0 { failure = ReportError(call: "fsync", path: temp, errno: Glibc.errno) }
        if close(fd) != 0 && failure == nil { failure = ReportError(call: "close", path: temp, errno: Glibc.errno) }
        if let failure {
            unlink(temp)
            throw failure
        }
        var outcome = Outcome.written
        if link(temp, final) != 0 {
            let e = Glibc.errno
            unlink(temp)
            guard e == EEXIST else { throw ReportError(call: "link", path: final, errno: e) }
            outcome = .alreadyExisted
        }
        unlink(temp)
        return outcome
    }

    private func writeAll(_ bytes: [UInt8], fd: Int32, path: String) throws(ReportError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if Glibc.errno != EINTR { throw ReportError(call: "write", path: path, errno: Glibc.errno) }
            } else {
                offset += n
            }
        }
    }
}
