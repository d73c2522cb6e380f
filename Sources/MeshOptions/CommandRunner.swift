// CommandRunner: how every alertmesh executable parses its command line and reports bad input.

public import ArgumentParser
import Glibc

extension ParsableCommand {
    /// Parses `CommandLine.arguments` with ALERTMESH_* environment defaults and runs the command.
    ///
    /// A bad option value stops the program with one line on stderr naming the option
    /// (`alert-service: --listen: "x" has no port …`) and exit status 64; `--help` prints the help.
    public static func mainWithEnvironment(arguments: [String]? = nil) {
        var args = arguments ?? Array(CommandLine.arguments.dropFirst())
        var command: any ParsableCommand.Type = Self.self
        // Environment defaults go to the subcommand that will parse them.
        if let verb = args.first, let sub = configuration.subcommands.first(where: { $0._commandName == verb }) {
            command = sub
            args = [verb] + EnvironmentOptions.merge(Array(args.dropFirst()), for: sub, environment: environment())
        } else {
            args = EnvironmentOptions.merge(args, for: command, environment: environment())
        }
        do {
            var parsed = try parseAsRoot(args)
            try parsed.run()
        } catch {
            let code = exitCode(for: error)
            // --help, --version and explicit exit codes keep ArgumentParser's behaviour.
            if code == .success || error is ExitCode { exit(withError: error) }
            let message = self.message(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            exitWithLine(
                "\(configuration.commandName ?? "alertmesh"): \(message.replacingErrorPrefix())", status: code.rawValue)
        }
    }
}

/// Writes `line` to stderr (one write(2): no buffering to lose) and exits with `status`.
public func exitWithLine(_ line: String, status: Int32) -> Never {
    let bytes = Array((line + "\n").utf8)
    _ = Glibc.write(2, bytes, bytes.count)
    Glibc.exit(status)
}

private func environment() -> [String: String] {
    var env: [String: String] = [:]
    var p = environ
    while let entry = p.pointee {
        let s = String(cString: entry)
        if s.hasPrefix(EnvironmentOptions.prefix), let eq = s.firstIndex(of: "=") {
            env[String(s[..<eq])] = String(s[s.index(after: eq)...])
        }
        p += 1
    }
    return env
}

extension String {
    fileprivate func replacingErrorPrefix() -> String { hasPrefix("Error: ") ? String(dropFirst(7)) : self }
}
