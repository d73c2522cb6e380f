// EndpointTests: every address form the tools accept, and the errors for the rest.

import MeshLoop
import Testing

@Suite struct EndpointTests {
    @Test(arguments: [
        ("unix:/run/a.sock", Endpoint.unix(path: "/run/a.sock")),
        ("/abs/path.sock", .unix(path: "/abs/path.sock")),
        ("unix:///abs/x.sock", .unix(path: "/abs/x.sock")),
        ("unix:rel/x.sock", .unix(path: "rel/x.sock")),
        ("tcp://127.0.0.1:7001", .tcp(host: "127.0.0.1", port: 7001)),
        ("localhost:80", .tcp(host: "localhost", port: 80)),
        ("[::1]:9000", .tcp(host: "::1", port: 9000)),
        ("tcp://[::1]:9000", .tcp(host: "::1", port: 9000)),
        ("  host:1  ", .tcp(host: "host", port: 1)),
        (":7001", .tcp(host: "127.0.0.1", port: 7001)),
        ("tcp://:7001", .tcp(host: "127.0.0.1", port: 7001)),
    ])
    func parses(text: String, expected: Endpoint) throws {
        #expect(try Endpoint(parsing: text) == expected)
    }

    @Test(arguments: [
        "", "localhost", "host:", "host:99999", "host:12a", "::1:80", "[::1]", "a b:80", "unix:",
        "tcp://", "unix:/" + String(repeating: "x", count: 200),
    ])
    func rejects(text: String) {
        #expect(throws: Endpoint.ParseError.self) { _ = try Endpoint(parsing: text) }
    }

    @Test func printsCanonicalForms() {
        #expect(Endpoint.tcp(host: "::1", port: 1).description == "tcp://[::1]:1")
        #expect(Endpoint.unix(path: "/a").description == "unix:/a")
    }
}
