// EnvironmentOptions: every command-line option can also come from an ALERTMESH_* variable.

public import ArgumentParser

/// Merges `ALERTMESH_<OPTION>` environment variables into a command line, for containers.
///
/// The option list is read from the command's own `--help`, so what `--help` lists is exactly what
/// the environment can set: `--log-level` ↔ `ALERTMESH_LOG_LEVEL`, `--listen` ↔ `ALERTMESH_LISTEN`.
/// A flag on the command line beats the environment. A repeatable option takes a comma-separated
/// list (`ALERTMESH_LISTEN=unix:/run/a.sock,tcp://127.0.0.1:7001`); a boolean flag is set by `1`,
/// `true` or `yes`.
public enum EnvironmentOptions {
    public static let prefix = "ALERTMESH_"

    /// One option as `--help` shows it.
    public struct OptionInfo: Sendable, Hashable {
        public var name: String  // "log-level"
        public var aliases: [String]  // other long names of the same option
        public var takesValue: Bool
        public var repeatable: Bool
        public var environmentName: String { EnvironmentOptions.prefix + name.uppercased().replacingDashes() }
    }

    /// The long options of `command` (help excluded), read from its help text.
    public static func options(of command: any ParsableCommand.Type) -> [OptionInfo] {
        let help = command.helpMessage(columns: 10_000)
        let usage = help.split(separator: "\n").first { $0.hasPrefix("USAGE:") }.map(String.init) ?? ""
        var out: [OptionInfo] = []
        for line in help.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " }
            guard trimmed.hasPrefix("-"), line.hasPrefix("  ") else { continue }
            // "-v, --verbose  text"  /  "--timeout, --max-time <timeout>  text"
            let spec = trimmed.split(separator: " ").prefix { $0.hasPrefix("-") || $0.hasPrefix("<") }
            let longNames = spec.filter { $0.hasPrefix("--") }.map { String($0.dropFirst(2).filter { $0 != "," }) }
            guard let name = longNames.first, name != "help", name != "version", !name.isEmpty else { continue }
            let takesValue = spec.contains { $0.hasPrefix("<") }
            let repeatable = isRepeated(name, inUsage: usage)
            out.append(
                OptionInfo(
                    name: name, aliases: Array(longNames.dropFirst()), takesValue: takesValue, repeatable: repeatable))
        }
        return out
    }

    /// Whether the usage line shows `--name <value> ...` (ArgumentParser's mark of a repeatable option).
    static func isRepeated(_ name: String, inUsage usage: String) -> Bool {
        guard let start = usage.firstRange(of: "--\(name) <") else {
            return usage.firstRange(of: "--\(name) ...") != nil
        }
        guard let close = usage[start.upperBound...].firstIndex(of: ">") else { return false }
        return usage[usage.index(after: close)...].hasPrefix(" ...")
    }

    /// `arguments` with an `--option value` added for every option set in `environment` but absent
    /// from `arguments`.
    public static func merge(
        _ arguments: [String], for command: any ParsableCommand.Type, environment: [String: String]
    ) -> [String] {
        var merged = arguments
        let given = Set(
            arguments.compactMap { a -> String? in
                guard a.hasPrefix("--") else { return nil }
                return String(a.dropFirst(2).prefix { $0 != "=" })
            })
        for option in options(of: command) where !given.contains(option.name) && given.isDisjoint(with: option.aliases)
        {
            guard let value = environment[option.environmentName], !value.isEmpty else { continue }
            if !option.takesValue {
                if ["1", "true", "yes", "on"].contains(value.lowercased()) { merged.append("--" + option.name) }
            } else if option.repeatable {
                // `--name=value`, so a value starting with "-" is not taken for an option.
                for part in value.split(separator: ",") { merged.append("--\(option.name)=\(part.trimmingSpaces())") }
            } else {
                merged.append("--\(option.name)=\(value)")
            }
        }
        return merged
    }
}

extension String {
    fileprivate func replacingDashes() -> String { String(map { $0 == "-" ? "_" : $0 }) }
}

extension Substring {
    fileprivate func trimmingSpaces() -> String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
