// SharedReading: one reading of something slow (Redis, the mesh) shared by every reader for a second.

import MeshLoop

/// Reads a value at most once per `maxAgeMs` (0.9 s: just under the monitor's one-second sampling,
/// so each sample is a fresh reading): readers within that time get the same value, and
/// readers that come while a read is out wait for it instead of sending their own. So /metrics and
/// the monitor cost Redis the same whether one Prometheus reads them or ten pages are open.
/// Failures are not kept: the next reader tries again (still one read at a time).
final class SharedReading<Value, Failure: Error> {
    private let read: (@escaping (Result<Value, Failure>) -> Void) -> Void
    let maxAgeMs: UInt64
    private var cached: (atMs: UInt64, value: Value)?
    private var waiting: [(Result<Value, Failure>) -> Void] = []
    /// Reads sent (not answered from the cache).
    private(set) var reads: UInt64 = 0
    /// When the value held now was read (wall-clock ms): rates computed from successive values
    /// divide by the time between the readings, not between the askings.
    private(set) var readAtWallMs: UInt64 = 0

    init(maxAgeMs: UInt64 = 900, _ read: @escaping (@escaping (Result<Value, Failure>) -> Void) -> Void) {
        self.maxAgeMs = maxAgeMs
        self.read = read
    }

    func get(_ completion: @escaping (Result<Value, Failure>) -> Void) {
        let now = EventLoop.hrtimeNs() / 1_000_000
        if let cached, now >= cached.atMs, now - cached.atMs <= maxAgeMs { return completion(.success(cached.value)) }
        waiting.append(completion)
        guard waiting.count == 1 else { return }
        reads += 1
        read { [self] result in
            if case .success(let v) = result {
                self.cached = (EventLoop.hrtimeNs() / 1_000_000, v)
                self.readAtWallMs = EventLoop.wallMs()
            }
            let done = self.waiting
            self.waiting = []
            for c in done { c(result) }
        }
    }
}
