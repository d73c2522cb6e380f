// ReportStore: writes each task's report once, atomically, or fails with the call that failed.

import Alerts
import Glibc
import MeshLoop
import TaskPipeline

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
        try write(batch: [(taskID, content)])[0].get()
    }

    /// From this many unnamed files on, a batch's contents are made durable with one `syncfs`.
    static let syncfsBatch = 4

    /// Writes a batch of reports with one directory sync (group commit): every file's content is
    /// written and made durable (fsync each, or one `syncfs` for a batch of `syncfsBatch` or more),
    /// then each is linked to its name, then the directory is fsynced once — so a batch costs one
    /// directory flush instead of one per report. Each report succeeds or
    /// fails on its own; a report counts as written (or found) only once the directory sync
    /// succeeded.
    public func write(batch: [(taskID: String, content: String)]) -> [Result<Outcome, ReportError>] {
        var results = [Result<Outcome, ReportError>?](repeating: nil, count: batch.count)
        var unnamed: [(index: Int, fd: Int32)] = []
        defer { for (_, fd) in unnamed where fd >= 0 { close(fd) } }
        for (i, (taskID, content)) in batch.enumerated() {
            precondition(TaskID.isValid(taskID), "task id must be validated before it names a file")
            // No existence check first: `link` refuses an existing name (EEXIST: already written),
            // while a lookup per report in a directory of many thousands is not free; a duplicate
            // (a retried task) is rare and costs one discarded unnamed file.
            do throws(ReportError) {
                if let fd = try openUnnamed(Array(content.utf8)) {
                    unnamed.append((i, fd))
                } else {
                    results[i] = .success(try writeThroughTempName(Array(content.utf8), taskID: taskID))
                }
            } catch {
                results[i] = .failure(error)
            }
        }
        if unnamed.count >= ReportStore.syncfsBatch {
            // One syncfs for the batch's contents instead of one fsync per file: each fsync issues
            // its own device flush (docs/benchmarks.md has the cost of each). syncfs flushes the rest
            // of the file system's dirty data too, which is why small batches keep per-file fsync.
            if let failure = syncDirectory("syncfs", ThreadPool.syncFileSystem(of:)) {
                for (i, _) in unnamed { results[i] = .failure(failure) }
            }
        } else {
            for (i, fd) in unnamed where fsync(fd) != 0 {
                results[i] = .failure(ReportError(call: "fsync", path: directory + "/(unnamed)", errno: Glibc.errno))
            }
        }
        for (i, fd) in unnamed where results[i] == nil {
            let final = path(taskID: batch[i].taskID)
            if linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, final, AT_SYMLINK_FOLLOW) == 0 {
                results[i] = .success(.written)
            } else if Glibc.errno == EEXIST {
                results[i] = .success(.alreadyExisted)
            } else if Glibc.errno == ENOENT && access("/proc/self/fd", F_OK) != 0 {
                // No /proc to name the file through: the portable way for this one.
                results[i] = Result { () throws(ReportError) in
                    try writeThroughTempName(Array(batch[i].content.utf8), taskID: batch[i].taskID)
                }
            } else {
                results[i] = .failure(ReportError(call: "linkat", path: final, errno: Glibc.errno))
            }
        }
        // One directory sync makes every name durable — also the names a duplicate found, which
        // an earlier call may have linked without a successful sync.
        let named = results.indices.filter { if case .success? = results[$0] { true } else { false } }
        // Not durable: the worker retries, and the retry syncs again.
        if !named.isEmpty, let failure = syncDirectory("fsync", fsync) {
            for i in named { results[i] = .failure(failure) }
        }
        return results.map { $0 ?? .failure(ReportError(call: "write", path: directory, errno: EIO)) }
    }

    /// Opens the directory and runs `sync` (`fsync`, `syncfs`) on it; the failure, naming the call.
    private func syncDirectory(_ call: String, _ sync: (Int32) -> Int32) -> ReportError? {
        let dirfd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirfd >= 0 else { return ReportError(call: "open", path: directory, errno: Glibc.errno) }
        defer { close(dirfd) }
        return sync(dirfd) == 0 ? nil : ReportError(call: call, path: directory, errno: Glibc.errno)
    }

    /// Linux's `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`; Swift does not import the macro).
    static let openTmpFile: Int32 = 0o20000000 | O_DIRECTORY

    /// Writes an unnamed file in the directory (`O_TMPFILE`) and returns its descriptor; the
    /// caller fsyncs it and gives it its name with `linkat` — which, like `link`, refuses to
    /// replace. No temporary name is created and deleted, so the file system does no directory
    /// churn (with temporary names, ext4 spends its time scanning recently deleted inodes).
    ///
    /// - Returns: nil when the file system has no `O_TMPFILE` (the caller falls back).
    private func openUnnamed(_ bytes: [UInt8]) throws(ReportError) -> Int32? {
        let fd = open(directory, ReportStore.openTmpFile | O_WRONLY | O_CLOEXEC, 0o640)
        if fd < 0 {
            let e = Glibc.errno
            if e == EOPNOTSUPP || e == EISDIR || e == EINVAL || e == ENOENT && access(directory, F_OK) == 0 {
                return nil
            }
            throw ReportError(call: "open", path: directory + ", O_TMPFILE", errno: e)
        }
        do {
            try writeAll(bytes, fd: fd, path: directory + "/(unnamed)")
        } catch {
            close(fd)
            throw error
        }
        return fd
    }

    /// The portable way: a hidden temporary name, fsync, `link` to the final name, unlink.
    private func writeThroughTempName(_ bytes: [UInt8], taskID: String) throws(ReportError) -> Outcome {
        let final = path(taskID: taskID)
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
