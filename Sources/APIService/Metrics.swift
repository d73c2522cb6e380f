// Metrics: the Prometheus text exposition api-service serves on GET /metrics.

/// Builds a Prometheus text exposition (version 0.0.4): samples are grouped by metric name, each
/// group opened by its `# HELP` and `# TYPE` lines, label values escaped.
struct PrometheusText {
    enum Kind: String {
        case counter, gauge, histogram
    }

    private var order: [String] = []
    private var families: [String: (help: String, kind: Kind, samples: [String])] = [:]

    mutating func add(
        _ name: String, _ kind: Kind, _ help: String, labels: [(String, String)] = [], value: Double,
        suffix: String = ""
    ) {
        if families[name] == nil {
            order.append(name)
            families[name] = (help, kind, [])
        }
        var line = name + suffix
        if !labels.isEmpty {
            line += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        line += " " + Self.format(value)
        families[name]!.samples.append(line)
    }

    func render() -> String {
        var out = ""
        for name in order {
            guard let f = families[name] else { continue }
            out += "# HELP \(name) \(f.help)\n# TYPE \(name) \(f.kind.rawValue)\n"
            for s in f.samples { out += s + "\n" }
        }
        return out
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    /// A metric name from a figure's name: `[a-zA-Z0-9_]`, prefixed.
    static func name(_ prefix: String, _ figure: String) -> String {
        prefix + String(figure.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
    }
}

/// A latency histogram with fixed buckets (seconds), as Prometheus expects: cumulative counts.
struct LatencyHistogram {
    static let bounds: [Double] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
    private(set) var counts = [UInt64](repeating: 0, count: LatencyHistogram.bounds.count)
    private(set) var count: UInt64 = 0
    private(set) var sum: Double = 0

    mutating func record(seconds: Double) {
        count += 1
        sum += seconds
        if let i = Self.bounds.firstIndex(where: { seconds <= $0 }) { counts[i] += 1 }
    }

    func add(to text: inout PrometheusText, name: String, help: String, labels: [(String, String)]) {
        var cumulative: UInt64 = 0
        for (i, bound) in Self.bounds.enumerated() {
            cumulative += counts[i]
            text.add(
                name, .histogram, help, labels: labels + [("le", PrometheusText.format(bound))],
                value: Double(cumulative), suffix: "_bucket")
        }
        text.add(name, .histogram, help, labels: labels + [("le", "+Inf")], value: Double(count), suffix: "_bucket")
        text.add(name, .histogram, help, labels: labels, value: sum, suffix: "_sum")
        text.add(name, .histogram, help, labels: labels, value: Double(count), suffix: "_count")
    }
}
