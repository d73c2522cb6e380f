// swift-tools-version: 6.0
// alertmesh: a message-alerting mesh on libuv, with its own length-prefixed binary RPC.
// Linux only (Debian 12): the loop, sockets and report store use Glibc and Linux calls directly.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // Release builds leave out the run-time exclusivity checks (every modify of a class's stored
    // property: a thread-local access set). They were a quarter of the instructions of an RPC
    // round trip on each side (callgrind; bench/RESULTS.md, rpc). Debug builds — every test run —
    // keep them, so an overlapping access still fails the suite.
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "alertmesh",
    products: [
        .executable(name: "rpc-probe", targets: ["rpc-probe"]),
        .executable(name: "alert-service", targets: ["alert-service"]),
        .executable(name: "api-service", targets: ["api-service"]),
        .executable(name: "worker", targets: ["worker"]),
        .library(name: "MeshRPC", targets: ["MeshRPC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.1.0"),
    ],
    targets: [
        // C, confined to two shim modules (Debian packages through pkg-config).
        .systemLibrary(
            name: "CLibUV", pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(
            name: "CHiredis", pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]),
        // Node's http-parser 2.9 (Debian ships no pkg-config file: the modulemap links it by name).
        .systemLibrary(name: "CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
        // OpenSSL 3 for TLS on the RPC's TCP links (libssl-dev).
        .systemLibrary(
            name: "COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),

        // The wire codec: pure, no I/O, the fuzz target.
        .target(name: "MeshWire", swiftSettings: swiftSettings),
        // Detectors, masking and report rendering: pure domain logic, no I/O.
        .target(name: "Alerts", swiftSettings: swiftSettings),
        // Time of day and RFC 3339 text: a leaf every layer that stamps times may use.
        .target(name: "MeshTime", swiftSettings: swiftSettings),
        // JSON written by hand where JSONEncoder showed in profiles (the API's answers, stored results).
        .target(name: "MeshJSON", swiftSettings: swiftSettings),
        // The task pipeline's rules: task ids, states, transitions, retry decisions. Pure, no I/O.
        .target(name: "TaskPipeline", dependencies: ["MeshJSON"], swiftSettings: swiftSettings),
        // Logging: the swift-log handler — rotating files, stderr, batched UDP line protocol to InfluxDB.
        .target(
            name: "MeshLog", dependencies: ["MeshTime", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        // Swift face of libuv: loop, timers, signals, streams, UDP, cross-thread wakeup.
        .target(name: "MeshLoop", dependencies: ["CLibUV"], swiftSettings: swiftSettings),
        // HTTP/1.1 server on MeshLoop around http-parser: keep-alive, pipelining, limits, timeouts.
        .target(name: "MeshHTTP", dependencies: ["CHTTPParser", "MeshLoop", "MeshJSON"], swiftSettings: swiftSettings),
        // hiredis's async API on the service's libuv loop: connection, commands, replies.
        .target(name: "MeshRedis", dependencies: ["CHiredis", "MeshLoop"], swiftSettings: swiftSettings),
        // The pipeline in Redis: key layout, atomic Lua state changes, submit/status, the stream consumer.
        .target(
            name: "TaskQueue", dependencies: ["MeshRedis", "MeshLoop", "TaskPipeline"], swiftSettings: swiftSettings),
        // Generated protobuf messages of proto/alertmesh/v1 (see scripts/gen-proto).
        .target(
            name: "MeshProto",
            dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]),
        // TLS 1.3 with mutual certificates, as a StreamSecurity layer driven through memory BIOs.
        .target(name: "MeshTLS", dependencies: ["COpenSSL", "MeshLoop"], swiftSettings: swiftSettings),
        // RPC server and client on MeshLoop: handshake, request ids, deadlines, built-in services.
        .target(
            name: "MeshRPC",
            dependencies: [
                "MeshWire", "MeshLoop", "MeshProto", "MeshTLS",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings),
        // The contract of alertmesh.v1.AlertService (method ids and message types): what its callers import.
        .target(name: "AlertContract", dependencies: ["MeshRPC", "MeshProto"], swiftSettings: swiftSettings),
        // alert-service's logic: the Analyze RPC and the report store (the executable only wires it).
        .target(
            name: "AlertService",
            dependencies: [
                "Alerts", "AlertContract", "TaskPipeline", "MeshRPC", "MeshLoop", "MeshTime", "MeshProto", "MeshWire",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        // api-service's logic: routes, JSON answers, submit/status over TaskQueue.
        .target(
            name: "APIService",
            dependencies: [
                "MeshHTTP", "MeshJSON", "TaskQueue", "TaskPipeline", "MeshRedis", "MeshRPC", "MeshProto", "MeshLoop",
                "MeshTime", "AlertContract", "MeshTLS", .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        // worker's logic: an attempt is an Analyze call; the consumer does the rest.
        .target(
            name: "TaskWorker",
            dependencies: [
                "TaskQueue", "TaskPipeline", "MeshRPC", "MeshProto", "MeshWire", "MeshTime", "AlertContract",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        // The load test: message mix, HTTP submit and follow, latency histograms, verification.
        .target(
            name: "LoadGenerator",
            dependencies: [
                "MeshHTTP", "MeshJSON", "MeshLoop", "MeshTime", "Alerts",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings),
        // The command-line conventions every executable shares (ALERTMESH_* environment, common options).
        .target(
            name: "MeshOptions",
            dependencies: [
                "MeshTLS",
                "MeshLoop", "MeshLog", "MeshRedis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),

        .executableTarget(
            name: "alert-service",
            dependencies: [
                "AlertService", "AlertContract", "Alerts", "MeshRPC", "MeshLoop", "MeshOptions", "MeshLog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Executables/alert-service",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "api-service",
            dependencies: [
                "APIService", "MeshHTTP", "MeshLoop", "MeshOptions", "MeshRedis", "TaskQueue", "Alerts", "MeshLog",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Executables/api-service",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "worker",
            dependencies: [
                "TaskWorker", "TaskQueue", "TaskPipeline", "MeshRPC", "MeshRedis", "MeshLoop", "MeshOptions", "Alerts",
                "MeshLog", "AlertContract",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Executables/worker",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "loadgen",
            dependencies: [
                "LoadGenerator", "MeshLoop", "MeshOptions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/Executables/loadgen",
            swiftSettings: swiftSettings),
        .executableTarget(
            name: "rpc-probe",
            dependencies: [
                "MeshRPC", "MeshWire", "MeshLoop", "MeshProto", "MeshOptions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Sources/Executables/rpc-probe",
            swiftSettings: swiftSettings),

        // The peer of bench/run's RPC benchmarks (lives in bench/, not shipped).
        .executableTarget(
            name: "bench-server",
            dependencies: [
                "MeshRPC", "MeshLoop", "MeshOptions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "bench/bench-server",
            swiftSettings: swiftSettings),

        // Helpers shared by the test targets (plain sockets on free loopback ports).
        .target(
            name: "MeshTestSupport", dependencies: ["MeshLoop"], path: "Tests/MeshTestSupport",
            swiftSettings: swiftSettings),

        // The Redis-only ceiling of the pipeline for bench/run's end-to-end benchmark.
        .executableTarget(
            name: "bench-redis",
            dependencies: [
                "MeshRedis", "MeshLoop", "TaskQueue", "TaskPipeline", "LoadGenerator", "Alerts", "AlertService",
            ],
            path: "bench/bench-redis",
            swiftSettings: swiftSettings),
        // The Swift side of bench/run's log benchmark.
        .executableTarget(
            name: "bench-log",
            dependencies: ["MeshLog", .product(name: "Logging", package: "swift-log")],
            path: "bench/bench-log", swiftSettings: swiftSettings),
        // The Swift side of bench/run's detector benchmark.
        .executableTarget(
            name: "bench-detect", dependencies: ["Alerts"], path: "bench/bench-detect", swiftSettings: swiftSettings),

        .testTarget(name: "MeshWireTests", dependencies: ["MeshWire"], swiftSettings: swiftSettings),
        .testTarget(name: "AlertsTests", dependencies: ["Alerts"], swiftSettings: swiftSettings),
        .testTarget(
            name: "MeshLogTests",
            dependencies: ["MeshLog", "MeshTime", "MeshTestSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings),
        .testTarget(name: "TaskPipelineTests", dependencies: ["TaskPipeline"], swiftSettings: swiftSettings),
        .testTarget(name: "MeshJSONTests", dependencies: ["MeshJSON"], swiftSettings: swiftSettings),
        .testTarget(
            name: "TaskQueueTests",
            dependencies: ["TaskQueue", "TaskPipeline", "MeshRedis", "MeshLoop", "MeshTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "MeshRedisTests", dependencies: ["MeshRedis", "MeshLoop", "MeshTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "AlertServiceTests",
            dependencies: [
                "AlertService", "AlertContract", "Alerts", "MeshRPC", "MeshLoop", "MeshProto", "MeshWire",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "MeshHTTPTests", dependencies: ["MeshHTTP", "MeshLoop", "MeshTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "APIServiceTests",
            dependencies: [
                "APIService", "Alerts", "MeshHTTP", "MeshLoop", "MeshTime", "MeshRedis", "TaskQueue", "TaskPipeline",
                "MeshTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        // The whole pipeline as processes: api-service, worker(s), alert-service, redis-server.
        .testTarget(
            name: "PipelineTests",
            dependencies: ["api-service", "worker", "alert-service", "rpc-probe", "loadgen", "MeshTestSupport"],
            swiftSettings: swiftSettings),
        // compose/ checked against the real binaries (no container engine here).
        .testTarget(
            name: "ComposeTests",
            dependencies: ["api-service", "worker", "alert-service", "rpc-probe", "MeshTestSupport", "MeshRedis"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "LoadGeneratorTests", dependencies: ["LoadGenerator", "Alerts", "MeshHTTP", "MeshLoop"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "MeshLoopTests", dependencies: ["MeshLoop", "MeshTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "MeshOptionsTests",
            dependencies: [
                "MeshOptions", "MeshLoop", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "MeshRPCTests",
            dependencies: [
                "MeshRPC", "MeshWire", "MeshLoop", "MeshProto", "MeshTestSupport", "MeshTLS",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings),
        // The tree itself: module edges, case collisions, README and docs links, file lengths.
        .testTarget(name: "RepositoryTests", dependencies: ["MeshTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RPCProbeTests",
            dependencies: [
                "rpc-probe", "alert-service", "bench-server", "MeshRPC", "MeshLoop", "MeshProto", "MeshOptions",
                "MeshWire",
                "MeshTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings),
    ]
)
