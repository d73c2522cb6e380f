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
        let temp = directory + "/.\(taskID).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw ReportError(call: "open", path: temp, errno: Glibc.errno) }
        var failure: ReportError?
        let bytes = Array(content.utf8)
        var offset = 0
        while offset < bytes.count && failure == nil {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if Glibc.errno != EINTR { failure = ReportError(call: "write", path: temp, errno: Glibc.errno) }
            } else {
                offset += n
            }
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
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
        return outcome
    }
}
