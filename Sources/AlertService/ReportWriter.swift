// ReportWriter: group commit of reports — one batch on the thread pool at a time.

import MeshLoop

/// Writes reports off the loop with group commit: while one batch is being written and synced on
/// the thread pool, the reports that arrive meanwhile queue up and go together in the next batch
/// (`ReportStore.write(batch:)`: one directory sync for all of them). Under load batches grow by
/// themselves; a lone report is written at once. Loop-bound: call from the loop's thread only.
final class ReportWriter {
    typealias Completion = (Result<ReportStore.Outcome, ReportError>) -> Void

    let store: ReportStore
    let loop: EventLoop
    /// The most reports in one batch.
    let maxBatch: Int
    private var queued: [(taskID: String, content: String, done: Completion)] = []
    private var writing = false

    init(store: ReportStore, loop: EventLoop, maxBatch: Int = 256) {
        self.store = store
        self.loop = loop
        self.maxBatch = max(1, maxBatch)
    }

    /// Writes the report of `taskID` (unless it exists); `done` runs on the loop once it is on disk.
    func write(taskID: String, content: String, done: @escaping Completion) {
        queued.append((taskID, content, done))
        if !writing { writeNextBatch() }
    }

    private func writeNextBatch() {
        guard !queued.isEmpty else { return }
        let batch = Array(queued.prefix(maxBatch))
        queued.removeFirst(batch.count)
        writing = true
        let store = self.store
        let items = batch.map { (taskID: $0.taskID, content: $0.content) }
        ThreadPool.run(
            on: loop, { store.write(batch: items) },
            then: { [self] results in
                writing = false
                for (item, result) in zip(batch, results) { item.done(result) }
                writeNextBatch()
            })
    }
}
