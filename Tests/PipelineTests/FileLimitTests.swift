// FileLimitTests: every service raises its open-file limit to the hard limit, and says once when
// its connection caps still do not fit.

import Foundation
import MeshTestSupport
import Testing

@Suite struct FileLimitTests {
    /// (service, its arguments in `dir`) for the three services.
    static func command(_ service: String, dir: String) -> [String] {
        switch service {
        case "alert-service": ["--data-dir", dir, "--listen", "unix:\(dir)/a.sock"]
        case "worker":
            ["--data-dir", dir, "--redis", "unix:\(dir)/none.sock", "--alert-endpoint", "unix:\(dir)/a.sock"]
        default: ["--data-dir", dir, "--http", "127.0.0.1:0", "--redis", "unix:\(dir)/none.sock"]
        }
    }

    /// The hard limit this process may hand down (raising it would need CAP_SYS_RESOURCE).
    static var inheritedHardLimit: Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(min(limit.rlim_max, 1 << 20))
    }

    /// hard: a limit below the services' caps, or (nil) the inherited one, which fits them here.
    @Test(arguments: ["alert-service", "worker", "api-service"], [1_024, nil])
    func theSoftLimitIsRaisedToTheHardOneAndAShortfallIsSaidOnce(service: String, hard: Int?) throws {
        let hard = hard ?? Self.inheritedHardLimit
        let dir = NSTemporaryDirectory() + "alertmesh-nofile-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // prlimit sets the limits and execs the service: the same process.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/prlimit")
        p.arguments = ["--nofile=256:\(hard)", builtBinary(service).path] + Self.command(service, dir: dir)
        p.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALERTMESH_") }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        defer { if p.isRunning { kill(p.processIdentifier, SIGKILL) } }
        let log = dir + "/logs/\(service).log"
        var text = ""
        for _ in 0..<500 where !text.contains("\(service) ready") {
            usleep(20_000)
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        }
        #expect(text.contains("\(service) ready"), "\(text)")
        let limits = try String(contentsOfFile: "/proc/\(p.processIdentifier)/limits", encoding: .utf8)
        let line = limits.split(separator: "\n").first { $0.hasPrefix("Max open files") } ?? ""
        #expect(
            line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(3).prefix(2) == [
                "\(hard)", "\(hard)",
            ], "\(line)")
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
        text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let warnings = text.split(separator: "\n").filter { $0.contains("open-file limit below the connection caps") }
        // Every service's caps are 4,096 connections by default: they fit 65,536, not 1,024.
        #expect(warnings.count == (hard < 4_096 + 64 ? 1 : 0), "\(text)")
    }
}
