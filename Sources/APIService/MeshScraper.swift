// MeshScraper: collects the figures of the mesh's other services over RPC for /metrics.

public import MeshLoop
import MeshProto
import MeshRPC
public import MeshTLS

/// One scraped service: its `_sys.Stats/Get` answer, or why there is none.
struct ScrapeResult {
    var instance: String
    /// The server's name: from this answer, or the last one when it did not answer.
    var service = ""
    var stats: Alertmesh_V1_StatsResponse?
    var error: String?
    /// `_sys.Health/Check`: serving or not, and why (a worker paused because no alert-service
    /// answers says so here).
    var health: Alertmesh_V1_HealthCheckResponse?
    /// When the service last answered (wall-clock ms); nil if it never has.
    var lastSeenMs: UInt64?
}

/// Asks every `--scrape` endpoint (workers, alert-services) for `_sys.Stats/Get` in parallel, with
/// a short deadline, when /metrics is read. Only api-service speaks HTTP, so this is how
/// Prometheus sees the rest of the mesh: one scrape target, every service behind it, each sample
/// labelled with `instance` (the endpoint) and `service` (the server's name).
///
/// Answers are shared (a `SharedReading`: 0.9 s, and readers that come while a scrape is out wait
/// for it): however many Prometheus servers, monitor pages or scripts read /metrics, each service
/// is asked at most about once a second.
public final class MeshScraper {
    private let clients: [(String, RPCClient)]
    private var lastService: [String: String] = [:]
    private var lastSeenMs: [String: UInt64] = [:]
    public var timeoutMs: UInt64 = 1_000
    private lazy var answers = SharedReading<[ScrapeResult], Never> { [unowned self] done in
        self.scrapeNow { done(.success($0)) }
    }
    /// Scrapes sent to the services (not answered from the shared reading).
    public var scrapes: UInt64 { answers.reads }

    /// Over TLS (`tls`), the services answer as `api-service`, the identity in its certificate.
    public init(loop: EventLoop, endpoints: [Endpoint], tls: TLSContext? = nil) {
        clients = endpoints.map { endpoint in
            var config = RPCClient.Configuration(name: "api-service metrics")
            config.connectTimeoutMs = 1_000
            config.tls = tls
            config.expectedPeers = ["worker", "alert-service"]
            return (endpoint.description, RPCClient(loop: loop, endpoints: [endpoint], configuration: config))
        }
    }

    public var isEmpty: Bool { clients.isEmpty }

    /// The services' answers, at most the shared reading's age old.
    func scrape(_ completion: @escaping ([ScrapeResult]) -> Void) {
        guard !clients.isEmpty else { return completion([]) }
        answers.get { completion((try? $0.get()) ?? []) }
    }

    private func scrapeNow(_ completion: @escaping ([ScrapeResult]) -> Void) {
        var results = clients.map { ScrapeResult(instance: $0.0) }
        var remaining = clients.count * 2
        func done() {
            remaining -= 1
            if remaining == 0 { completion(results) }
        }
        for (i, (instance, client)) in clients.enumerated() {
            client.call(SystemServices.stats, Alertmesh_V1_StatsRequest(), timeoutMs: timeoutMs) { [self] result in
                switch result {
                case .success(let stats):
                    self.lastService[instance] = stats.server
                    self.lastSeenMs[instance] = EventLoop.wallMs()
                    results[i].service = stats.server
                    results[i].stats = stats
                case .failure(let error):
                    results[i].service = self.lastService[instance] ?? ""
                    results[i].error = "\(error)"
                }
                results[i].lastSeenMs = self.lastSeenMs[instance]
                done()
            }
            client.call(SystemServices.health, Alertmesh_V1_HealthCheckRequest(), timeoutMs: timeoutMs) { result in
                if case .success(let health) = result { results[i].health = health }
                done()
            }
        }
    }

    /// Clients of the scraped services that said they are `service` ("worker", "alert-service").
    func clients(of service: String) -> [RPCClient] { clients.filter { lastService[$0.0] == service }.map(\.1) }

    public func close() {
        for (_, client) in clients { client.close() }
    }
}
