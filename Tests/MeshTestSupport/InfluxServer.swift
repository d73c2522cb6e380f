// InfluxServer: a real influxd 1.x for tests — the shipped config, a temp dir, free ports.

import Foundation

/// Starts `influxd` (Debian's `influxdb` package) with the project's
/// `compose/influxdb/influxdb.conf`, its directories and addresses overridden through influxd's
/// environment variables: everything in a temp dir, HTTP, UDP and the backup service on free
/// loopback ports. `stop()` kills it and removes the directory.
public final class InfluxServer: @unchecked Sendable {
    public let directory: String
    public let httpPort: UInt16
    public let udpPort: UInt16
    private let process = Process()

    public init(configFile: String) throws {
        directory = NSTemporaryDirectory() + "alertmesh-influx-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let http = LoopbackSocket.listenTCP()
        let backup = LoopbackSocket.listenTCP()
        let udp = LoopbackSocket.bindUDP()
        httpPort = http.port
        udpPort = udp.port
        let backupPort = backup.port
        http.close()
        backup.close()
        udp.close()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/influxd")
        process.arguments = ["-config", configFile]
        process.environment = [
            "INFLUXDB_META_DIR": directory + "/meta", "INFLUXDB_DATA_DIR": directory + "/data",
            "INFLUXDB_DATA_WAL_DIR": directory + "/wal", "INFLUXDB_HTTP_BIND_ADDRESS": "127.0.0.1:\(httpPort)",
            "INFLUXDB_BIND_ADDRESS": "127.0.0.1:\(backupPort)", "INFLUXDB_UDP_0_BIND_ADDRESS": "127.0.0.1:\(udpPort)",
            "INFLUXDB_UDP_0_BATCH_TIMEOUT": "100ms",
        ]
        let log = FileManager.default.createFile(atPath: directory + "/influxd.log", contents: nil)
        _ = log
        process.standardOutput = FileHandle(forWritingAtPath: directory + "/influxd.log")
        process.standardError = FileHandle(forWritingAtPath: directory + "/influxd.log")
        try process.run()
        for _ in 0..<400 {
            if ping() { return }
            if !process.isRunning { break }
            usleep(25_000)
        }
        let text = (try? String(contentsOfFile: directory + "/influxd.log", encoding: .utf8)) ?? ""
        stop()
        throw NSError(
            domain: "InfluxServer", code: 1,
            userInfo: [NSLocalizedDescriptionKey: "influxd did not start: \(text.suffix(800))"])
    }

    /// `GET /ping` answers 204.
    public func ping() -> Bool {
        get("/ping").hasPrefix("HTTP/1.1 204")
    }

    /// Runs an InfluxQL query; the parsed JSON answer.
    public func query(_ q: String, database: String = "logs") -> [String: Any] {
        let text = get(
            "/query?db=\(database)&epoch=ns&q=" + (q.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        )
        guard let split = text.range(of: "\r\n\r\n") else { return [:] }
        var body = String(text[split.upperBound...])
        if text.lowercased().contains("transfer-encoding: chunked") { body = InfluxServer.dechunk(body) }
        return (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }

    /// The rows of a query's first series, as column → value dictionaries.
    public func rows(_ q: String) -> [[String: Any]] {
        guard let results = query(q)["results"] as? [[String: Any]],
            let series = results.first?["series"] as? [[String: Any]]
        else { return [] }
        var out: [[String: Any]] = []
        for s in series {
            let columns = s["columns"] as? [String] ?? []
            for values in s["values"] as? [[Any]] ?? [] {
                var row: [String: Any] = [:]
                for (c, v) in zip(columns, values) { row[c] = v }
                out.append(row)
            }
        }
        return out
    }

    private func get(_ path: String) -> String {
        let c = BlockingClient(port: httpPort, receiveTimeoutSeconds: 5)
        defer { c.close() }
        c.send("GET \(path) HTTP/1.1\r\nHost: influx\r\nConnection: close\r\n\r\n")
        return c.receive().text
    }

    static func dechunk(_ s: String) -> String {
        var out = ""
        var rest = Substring(s)
        while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
            let start = lineEnd.upperBound
            let bytes = Array(rest[start...].utf8)
            out += String(decoding: bytes.prefix(size), as: UTF8.self)
            rest = Substring(String(decoding: bytes.dropFirst(size + 2), as: UTF8.self))
        }
        return out
    }

    public func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
