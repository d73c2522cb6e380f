// bench-server: an RPC server with only the built-in methods, the peer of bench/run's RPC benchmarks.

import ArgumentParser
import Glibc
import Logging
import MeshLoop
import MeshOptions
import MeshRPC

@main
struct BenchServer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-server",
        abstract: "Serve the built-in methods (_sys.Echo/Echo is the empty call) until SIGINT/SIGTERM.")

    @OptionGroup var common: ServiceOptions
    @OptionGroup var tls: TLSOptions
    @OptionGroup var loopOptions: LoopOptions

    static func main() { mainWithEnvironment() }

    func validate() throws {
        if common.listenAddresses.isEmpty { throw ValidationError("--listen: give at least one address") }
        try tls.check(common.endpoints, option: "--listen")
    }

    func run() throws {
        var logger = Logger(label: "bench-server")
        logger.logLevel = common.level
        let loop = try EventLoop()
        try loopOptions.apply(to: loop)
        var configuration = RPCServer.Configuration(name: "bench-server")
        configuration.tls = try tls.context()
        let server = try RPCServer(loop: loop, configuration: configuration, logger: logger)
        for endpoint in common.endpoints {
            let bound = try server.listen(on: endpoint)
            print("listening \(bound)")
        }
        fflush(nil)
        let shutdown = ServiceShutdown(loop: loop, logger: logger, shipper: nil, graceMs: 1_000)
        shutdown.drain = { grace, done in server.shutdown(graceMs: grace, done) }
        shutdown.hurry = { server.shutdownNow() }
        try shutdown.run()
        try loop.close()
    }
}
