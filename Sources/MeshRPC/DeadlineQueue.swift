// DeadlineQueue: an indexed min-heap of call deadlines, so one timer serves every call.

/// Something with a deadline that can be removed from the queue in O(log n) when it completes.
public class DeadlineEntry {
    /// Loop time (ms) at which the entry expires.
    public internal(set) var deadlineMs: UInt64 = 0
    /// Position in the heap, or -1 when not queued.
    var heapIndex = -1

    public init() {}
}

/// A min-heap keyed on `deadlineMs` whose entries know their index, so completed calls leave at
/// once instead of lingering until their deadline (a lazy heap would hold millions of finished
/// calls at 100k calls/s with 60 s deadlines).
public struct DeadlineQueue<Entry: DeadlineEntry> {
    private var heap: [Entry] = []

    public init() {}

    public var count: Int { heap.count }
    public var isEmpty: Bool { heap.isEmpty }
    /// The earliest deadline, if any.
    public var earliest: Entry? { heap.first }

    public mutating func insert(_ entry: Entry, deadlineMs: UInt64) {
        precondition(entry.heapIndex < 0, "entry queued twice")
        entry.deadlineMs = deadlineMs
        entry.heapIndex = heap.count
        heap.append(entry)
        siftUp(heap.count - 1)
    }

    /// Removes `entry` if it is queued.
    public mutating func remove(_ entry: Entry) {
        let i = entry.heapIndex
        guard i >= 0, i < heap.count, heap[i] === entry else { return }
        let last = heap.count - 1
        if i != last {
            swapAt(i, last)
        }
        heap.removeLast()
        entry.heapIndex = -1
        if i < heap.count {
            siftDown(i)
            siftUp(i)
        }
    }

    /// Removes and returns every entry whose deadline is at or before `nowMs`, earliest first.
    public mutating func popExpired(nowMs: UInt64) -> [Entry] {
        var out: [Entry] = []
        while let first = heap.first, first.deadlineMs <= nowMs {
            remove(first)
            out.append(first)
        }
        return out
    }

    private mutating func swapAt(_ a: Int, _ b: Int) {
        heap.swapAt(a, b)
        heap[a].heapIndex = a
        heap[b].heapIndex = b
    }

    private mutating func siftUp(_ index: Int) {
        var i = index
        while i > 0 {
            let parent = (i - 1) / 2
            guard heap[i].deadlineMs < heap[parent].deadlineMs else { return }
            swapAt(i, parent)
            i = parent
        }
    }

    private mutating func siftDown(_ index: Int) {
        var i = index
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var smallest = i
            if l < heap.count && heap[l].deadlineMs < heap[smallest].deadlineMs { smallest = l }
            if r < heap.count && heap[r].deadlineMs < heap[smallest].deadlineMs { smallest = r }
            guard smallest != i else { return }
            swapAt(i, smallest)
            i = smallest
        }
    }
}
