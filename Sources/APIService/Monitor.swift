// Monitor: what /monitor shows, sampled every second into fixed rings from the readings /metrics
// shares (so an open page costs Redis and the mesh nothing more than a Prometheus scrape does).

import MeshLoop
import TaskQueue

/// Samples the pipeline's counters, the queue and the scraped services once a second. Throughput
/// is kept for 15 minutes (900 points, a fixed ring: memory does not grow with uptime), the
/// workers' submit-to-done histograms for a minute (for p50/p99 over the last minute).
final class MonitorSampler {
    static let capacity = 900
    static let e2eWindowMs: UInt64 = 60_000
    static let e2eMaxSnapshots = 240

    struct Point {
        var atMs: UInt64
        var submitted: Double
        var completed: Double
        var failed: Double
    }

    private(set) var points: [Point] = []
    private var next = 0
    private var lastCounters: (atMs: UInt64, values: [String: Int64])?
    private(set) var depth: QueueClient.Depth?
    private(set) var redisUp = false
    private(set) var services: [ScrapeResult] = []
    /// Summed bucket counts of every worker's `task_e2e_seconds`, one per sample.
    private var e2e: [(atMs: UInt64, buckets: [Double])] = []
    /// Each alert-service's Analyze calls at the previous sample, for calls per second.
    private var lastCalls: [String: (atMs: UInt64, calls: UInt64)] = [:]
    private(set) var callsPerSecond: [String: Double] = [:]
    private var lastScrape: UInt64 = 0

    /// The points, oldest first.
    var throughput: [Point] { Array(points[next...] + points[..<next]) }

    func add(_ p: Point) {
        if points.count < Self.capacity {
            points.append(p)
        } else {
            points[next] = p
            next = (next + 1) % Self.capacity
        }
    }

    /// Takes one sample: everything is read through `api`'s shared readings.
    func sample(_ api: APIHandler) {
        api.counters.get { [self] result in
            guard case .success(let values) = result else { return }
            let now = api.counters.readAtWallMs
            if let last = lastCounters, now > last.atMs {
                let seconds = Double(now - last.atMs) / 1_000
                func rate(_ key: String) -> Double {
                    max(0, Double((values[key] ?? 0) - (last.values[key] ?? 0)) / seconds)
                }
                add(
                    Point(atMs: now, submitted: rate("submitted"), completed: rate("succeeded"), failed: rate("failed"))
                )
            }
            if now > (lastCounters?.atMs ?? 0) { lastCounters = (now, values) }
        }
        api.depth.get { [self] result in
            redisUp = api.queue.redis.isConnected
            if case .success(let d) = result { depth = d }
        }
        guard let scraper = api.scraper else { return }
        scraper.scrape { [self] results in
            services = results
            // The same answers again (shared with a /metrics read): no new rates from them.
            guard scraper.scrapes != lastScrape else { return }
            lastScrape = scraper.scrapes
            let now = EventLoop.wallMs()
            var summed = [Double](repeating: 0, count: E2EHistogram.bounds.count + 1)
            for r in results {
                guard let figures = r.stats?.figures else { continue }
                for (i, n) in E2EHistogram.buckets(in: figures).enumerated() { summed[i] += n }
                if let analyze = r.stats?.methods.first(where: { $0.method.hasSuffix("/Analyze") }) {
                    if let last = lastCalls[r.instance], now > last.atMs, analyze.calls >= last.calls {
                        callsPerSecond[r.instance] =
                            Double(analyze.calls - last.calls) * 1_000 / Double(now - last.atMs)
                    }
                    lastCalls[r.instance] = (now, analyze.calls)
                }
            }
            addE2E(atMs: now, buckets: summed)
        }
    }

    /// One snapshot of the workers' summed cumulative buckets (`E2EHistogram.bounds`, then +Inf).
    func addE2E(atMs: UInt64, buckets: [Double]) {
        e2e.append((atMs, buckets))
        // Keep the last minute, and as its base the newest snapshot from a minute ago or more.
        var drop = 0
        while drop + 1 < e2e.count && e2e[drop + 1].atMs + Self.e2eWindowMs <= atMs { drop += 1 }
        drop = max(drop, e2e.count - Self.e2eMaxSnapshots)
        if drop > 0 { e2e.removeFirst(drop) }
    }

    /// Submit-to-done quantile `q` over the last minute, from the bucket counts that grew in it
    /// (interpolated inside a bucket, as Prometheus's histogram_quantile does); nil without tasks.
    func e2eQuantile(_ q: Double) -> (seconds: Double, tasks: Double)? {
        guard let first = e2e.first, let last = e2e.last, last.atMs > first.atMs else { return nil }
        let delta = zip(last.buckets, first.buckets).map { max(0, $0 - $1) }
        guard let total = delta.last, total > 0 else { return nil }
        let rank = q * total
        var lower = 0.0
        var below = 0.0
        for (i, bound) in E2EHistogram.bounds.enumerated() {
            if delta[i] >= rank {
                let inBucket = delta[i] - below
                let fraction = inBucket > 0 ? (rank - below) / inBucket : 1
                return (lower + (bound - lower) * fraction, total)
            }
            lower = bound
            below = delta[i]
        }
        return (E2EHistogram.bounds.last!, total)  // in the +Inf bucket: at least the largest bound
    }
}
