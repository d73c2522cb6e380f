// ReportStoreTests: batches of reports — each written once, with its own outcome.

import AlertService
import Foundation
import Testing

@Suite struct ReportStoreTests {
    @Test func aBatchWritesNewReportsAndKeepsExistingOnesEachWithItsOwnOutcome() throws {
        let dir = NSTemporaryDirectory() + "alertmesh-reports-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ReportStore(directory: dir)
        #expect(try store.write(taskID: "old", content: "first\n") == .written)
        let results = store.write(batch: [
            ("a", "report a\n"), ("old", "second\n"), ("b", "report b\n"), ("a", "again\n"),
        ])
        #expect(results.map { try? $0.get() } == [.written, .alreadyExisted, .written, .alreadyExisted])
        #expect(try String(contentsOfFile: store.path(taskID: "a"), encoding: .utf8) == "report a\n")
        #expect(try String(contentsOfFile: store.path(taskID: "b"), encoding: .utf8) == "report b\n")
        #expect(try String(contentsOfFile: store.path(taskID: "old"), encoding: .utf8) == "first\n", "never replaced")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(names == ["a.txt", "b.txt", "old.txt"], "no temporary file left behind")
    }

    /// Large batches sync their contents with one syncfs instead of a fsync per file.
    @Test func aLargeBatchWritesEveryReportWhole() throws {
        let dir = NSTemporaryDirectory() + "alertmesh-reports-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try ReportStore(directory: dir)
        #expect(try store.write(taskID: "t3", content: "kept\n") == .written)
        let batch = (0..<40).map { (taskID: "t\($0)", content: String(repeating: "line \($0)\n", count: 50)) }
        let results = store.write(batch: batch)
        for (i, result) in results.enumerated() {
            #expect((try? result.get()) == (i == 3 ? .alreadyExisted : .written), "t\(i)")
            let expected = i == 3 ? "kept\n" : batch[i].content
            #expect(try String(contentsOfFile: store.path(taskID: "t\(i)"), encoding: .utf8) == expected)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).count == 40, "no temporary file left")
    }

    @Test func aFailingBatchFailsEveryReportNamingTheCall() throws {
        let dir = NSTemporaryDirectory() + "alertmesh-reports-\(UUID().uuidString.prefix(8))"
        defer {
            chmod(dir, 0o755)
            try? FileManager.default.removeItem(atPath: dir)
        }
        let store = try ReportStore(directory: dir)
        guard getuid() != 0 else {
            // root writes anyway; make the directory vanish instead.
            try FileManager.default.removeItem(atPath: dir)
            let results = store.write(batch: [("x", "1\n"), ("y", "2\n")])
            #expect(results.allSatisfy { if case .failure(let e) = $0 { "\(e)".contains(dir) } else { false } })
            return
        }
        chmod(dir, 0o500)
        let results = store.write(batch: [("x", "1\n"), ("y", "2\n")])
        #expect(
            results.allSatisfy {
                if case .failure(let e) = $0 { "\(e)".contains("EACCES") || "\(e)".contains("denied") } else { false }
            })
    }
}
