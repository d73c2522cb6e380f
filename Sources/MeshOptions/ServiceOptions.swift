// ServiceOptions: the options every alertmesh service shares (--listen, --data-dir, --log-level).

public import ArgumentParser
public import Logging
public import MeshLoop

/// Options common to every service executable; include with `@OptionGroup var common: ServiceOptions`.
public struct ServiceOptions: ParsableArguments {
    @Option(
        name: .customLong("listen"),
        help: ArgumentHelp(
            "RPC endpoint to listen on: unix:/path.sock or tcp://host:port (repeatable).", valueName: "addr"))
    public var listenAddresses: [String] = []

    @Option(help: ArgumentHelp("Directory for the service's state, logs and reports.", valueName: "dir"))
    public var dataDir: String = "data"

    @Option(
        help: ArgumentHelp(
            "Lowest level logged: trace, debug, info, notice, warning, error, critical.", valueName: "level"))
    public var logLevel: String = "info"

    public init() {}

    /// The parsed `--listen` endpoints.
    public var endpoints: [Endpoint] { listenAddresses.compactMap { try? Endpoint(parsing: $0) } }

    public var level: Logger.Level { Logger.Level(rawValue: logLevel.lowercased()) ?? .info }

    public func validate() throws {
        for a in listenAddresses {
            do {
                _ = try Endpoint(parsing: a)
            } catch {
                throw ValidationError("--listen: \(error)")
            }
        }
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError(
                "--log-level: \"\(logLevel)\" is not one of trace, debug, info, notice, warning, error, critical")
        }
    }
}
