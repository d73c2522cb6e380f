// MeshScraper: collects the figures of the mesh's other services over RPC for /metrics.

public import MeshLoop
import MeshProto
import MeshRPC

/// One scraped service: its `_sys.Stats/Get` answer, or why there is none.
struct ScrapeResult {
    var instance: String
    /// The server's name: from this answer, or the last one when it did not answer.
    var service = ""
    var stats: Alertmesh_V1_StatsResponse?
    var error: String?
}

/// Asks every `--scrape` endpoint (workers, alert-services) for `_sys.Stats/Get` in parallel, with
/// a short deadline, when /metrics is read. Only api-service speaks HTTP, so this is how
/// Prometheus sees the rest of the mesh: one scrape target, every service behind it, each sample
/// labelled with `instance` (the endpoint) and `service` (the server's name).
public final class MeshScraper {
    private let clients: [(String, RPCClient)]
    private var lastService: [String: String] = [:]
    public var timeoutMs: UInt64 = 1_000

    public init(loop: EventLoop, endpoints: [Endpoint]) {
        clients = endpoints.map { endpoint in
            var config = RPCClient.Configuration(name: "api-service metrics")
            config.connectTimeoutMs = 1_000
            return (endpoint.description, RPCClient(loop: loop, endpoints: [endpoint], configuration: config))
        }
    }

    public var isEmpty: Bool { clients.isEmpty }

    func scrape(_ completion: @escaping ([ScrapeResult]) -> Void) {
        guard !clients.isEmpty else { return completion([]) }
        var results: [ScrapeResult?] = Array(repeating: nil, count: clients.count)
        var remaining = clients.count
        for (i, (instance, client)) in clients.enumerated() {
            client.call(SystemServices.stats, Alertmesh_V1_StatsRequest(), timeoutMs: timeoutMs) { [self] result in
                switch result {
                case .success(let stats):
                    self.lastService[instance] = stats.server
                    results[i] = ScrapeResult(instance: instance, service: stats.server, stats: stats)
                case .failure(let error):
                    results[i] = ScrapeResult(
                        instance: instance, service: self.lastService[instance] ?? "", error: "\(error)")
                }
                remaining -= 1
                if remaining == 0 { completion(results.compactMap { $0 }) }
            }
        }
    }

    public func close() {
        for (_, client) in clients { client.close() }
    }
}
