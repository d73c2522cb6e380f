// ReadmeTests: every command the README and docs/ show is run here (or checked where it cannot run), and
// its recorded output must still match what the programs print — so the README cannot rot.

import Foundation
import MeshTestSupport
import Testing

@Suite(.serialized) struct ReadmeTests {
    /// The README first (its curl session comes before anything that refers to it), then docs/.
    func documents() throws -> [String] {
        let docs = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot.path + "/docs")
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        return ["README.md"] + docs
    }

    /// (command, the output recorded under it) for each `$ ` line, and each line of ```sh blocks,
    /// of the README and every page in docs/.
    func commands() throws -> [(command: String, output: String)] {
        var text = ""
        for document in try documents() {
            text += try String(contentsOf: repositoryRoot.appendingPathComponent(document), encoding: .utf8) + "\n"
        }
        var out: [(String, String)] = []
        for block in text.matches(of: /```(\w*)\n((?s).*?)```/) {
            let lines = block.2.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var i = 0
            while i < lines.count {
                var line = lines[i]
                let isPrompt = line.hasPrefix("$ ")
                guard isPrompt || (block.1 == "sh" && !line.trimmingCharacters(in: .whitespaces).isEmpty) else {
                    i += 1
                    continue
                }
                if isPrompt { line.removeFirst(2) }
                if let hash = line.range(of: "  #") { line = String(line[..<hash.lowerBound]) }
                while line.hasSuffix("\\"), i + 1 < lines.count {
                    line = String(line.dropLast()) + lines[i + 1].trimmingCharacters(in: .whitespaces)
                    i += 1
                }
                i += 1
                var output: [String] = []
                while isPrompt, i < lines.count, !lines[i].hasPrefix("$ ") {
                    output.append(lines[i])
                    i += 1
                }
                out.append((line.trimmingCharacters(in: .whitespaces), output.joined(separator: "\n")))
            }
        }
        return out
    }

    /// Splits a shell line into words (single and double quotes, no expansion).
    func words(_ line: String) -> [String] {
        var out: [String] = []
        var current = ""
        var quote: Character?
        var inWord = false
        for c in line {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "'" || c == "\"" {
                quote = c
                inWord = true
            } else if c == " " {
                if inWord { out.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(c)
                inWord = true
            }
        }
        if inWord { out.append(current) }
        return out
    }

    /// Output with what changes from run to run (ids, dates, timings) replaced.
    func normalized(_ text: String) -> String {
        text.replacing(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/, with: "<id>")
            .replacing(/Date: [^\n\r]*/, with: "Date: <date>")
            .replacing(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/, with: "<ts>")
            .replacing(/\d{13}-\d+/, with: "<entry>").replacing(/"failedAtMs":"\d+"/, with: #""failedAtMs":"<ms>""#)
            .replacing("\r\n", with: "\n")
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func run(_ path: String, _ arguments: [String]) -> (out: String, err: String) {
        let r = runProcess(path, arguments)
        return (r.stdout, r.stderr)
    }

    @Test func everyCommandInTheReadmeRunsAndPrintsWhatTheReadmeShows() throws {
        let mesh = try MeshProcesses()
        defer { mesh.stop() }
        _ = try mesh.startAlertService(socket: mesh.dir + "/alert-service-1.sock", log: "alert-1.log")
        // The worker also on TLS TCP, as `make run` starts it (the README's session probes it).
        let certs = try TestCertificates.make(in: mesh.dir + "/tls")
        let tlsPort = LoopbackSocket.listenTCP()
        let workerTLS = "tcp://127.0.0.1:\(tlsPort.port)"
        tlsPort.close()
        try mesh.startWorker(
            [
                "--listen", "unix:" + mesh.dir + "/worker-1.sock", "--alert-endpoint",
                "unix:" + mesh.dir + "/alert-service-1.sock", "--listen", workerTLS,
            ] + certs.files("worker").arguments)
        try mesh.startAPI()
        // The dead letter the README's session lists and re-drives, as the fail script leaves one.
        let failedTask = UUID().uuidString.lowercased()
        let error = "gave up after 12 attempts: UNAVAILABLE: cannot write report: ENOSPC"
        _ = mesh.redisCLI([
            "HSET", "{alertmesh}:task:\(failedTask)", "state", "FAILURE", "attempts", "12", "error", error,
            "created_at", "1796548300000", "updated_at", "1796548364018",
        ])
        _ = mesh.redisCLI([
            "XADD", "{alertmesh}:dead", "*", "task_id", failedTask, "error", error, "attempts", "12", "message",
            "password=hunter2 for jane@example.com",
        ])
        let makefile = try String(contentsOf: repositoryRoot.appendingPathComponent("Makefile"), encoding: .utf8)
        let manifest = try String(contentsOf: repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        var submitted: String?
        var readmeID: String?
        var checked = 0
        for (command, recorded) in try commands() {
            var w = words(command)
            guard let program = w.first else { continue }
            checked += 1
            switch program {
            case "make":
                #expect(makefile.contains("\n\(w[1]):"), "make \(w[1]): no such target")
            case "swift" where w.count >= 4 && w[1] == "build" && w[2] == "--target":
                #expect(manifest.contains("name: \"\(w[3])\""), "\(command): no such target")
            case "swift" where w.count >= 4 && w[1] == "test" && w[2] == "--filter":
                #expect(FileManager.default.fileExists(atPath: repositoryRoot.path + "/Tests/" + w[3]), "\(command)")
            case "docker":
                // No container engine here: ComposeTests validates the file these commands use.
                let file = try #require(w.firstIndex(of: "-f").map { w[$0 + 1] })
                #expect(FileManager.default.fileExists(atPath: repositoryRoot.path + "/" + file))
            case "scripts/loadtest":
                // Against this test's mesh, with the debug build, fewer tasks.
                var arguments = Array(w.dropFirst()).map {
                    $0.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(mesh.httpPort)")
                }
                if let i = arguments.firstIndex(of: "--tasks") { arguments[i + 1] = "300" }
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/bin/bash")
                p.arguments = [repositoryRoot.path + "/scripts/loadtest"] + arguments + ["--json"]
                var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ALERTMESH_") }
                env["ALERTMESH_BIN_DIR"] = builtBinary("loadgen").deletingLastPathComponent().path
                p.environment = env
                let out = Pipe()
                p.standardOutput = out
                p.standardError = FileHandle.nullDevice
                try p.run()
                let json = out.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                let report = try #require(try JSONSerialization.jsonObject(with: json) as? [String: Any])
                #expect(p.terminationStatus == 0 && report["completed"] as? Int == 300)
                #expect(report["lost"] as? Int == 0 && report["wrong"] as? Int == 0)
            case "bench/soak":
                // Thirty minutes: not run here; the script must exist and parse.
                let path = repositoryRoot.path + "/bench/soak"
                #expect(FileManager.default.isExecutableFile(atPath: path), "\(command)")
                #expect(runProcess("/bin/bash", ["-n", path]).status == 0, "\(command): syntax")
            case "bench-server":
                let r = run(builtBinary("bench-server").path, Array(w.dropFirst()))
                #expect(
                    r.err.trimmingCharacters(in: .whitespacesAndNewlines)
                        == recorded.trimmingCharacters(in: .whitespacesAndNewlines), "\(command)")
            case "curl":
                w = w.map { $0.replacingOccurrences(of: "localhost:8080", with: "localhost:\(mesh.httpPort)") }
                if let id = submitted, let old = readmeID { w = w.map { $0.replacingOccurrences(of: old, with: id) } }
                if w.contains(where: { $0.hasSuffix("/submit") }) && recorded.contains("202 Accepted") {
                    let r = run("/usr/bin/curl", Array(w.dropFirst()))
                    submitted = r.out.firstMatch(of: /"task_id":"([0-9a-f-]{36})"/).map { String($0.1) }
                    readmeID = recorded.firstMatch(of: /"task_id":"([0-9a-f-]{36})"/).map { String($0.1) }
                    #expect(normalized(r.out) == normalized(recorded), "\(command)")
                    let id = try #require(submitted)
                    try mesh.waitFor("SUCCESS") { mesh.state(id) == "SUCCESS" }
                } else {
                    let r = run("/usr/bin/curl", Array(w.dropFirst()))
                    #expect(normalized(r.out) == normalized(recorded), "\(command)")
                }
            case "rpc-probe":
                w = w.map {
                    $0.replacingOccurrences(of: "unix:run/", with: "unix:\(mesh.dir)/")
                        .replacingOccurrences(of: "tcp://127.0.0.1:7100", with: workerTLS)
                        .replacingOccurrences(of: "run/tls/", with: mesh.dir + "/tls/")
                }
                let r = run(builtBinary("rpc-probe").path, Array(w.dropFirst()))
                if w.contains("stats") {
                    // Figures change; the shape and every figure named must not.
                    #expect(r.out.hasPrefix("server worker (build "))
                    for line in recorded.split(separator: "\n").dropFirst(5) where !line.hasPrefix("…") {
                        let name = line.split(separator: " ").first.map(String.init) ?? ""
                        #expect(r.out.contains("\n" + name + " "), "stats lacks \(name)")
                    }
                } else {
                    #expect(normalized(r.out) == normalized(recorded), "\(command)")
                }
            default:
                Issue.record("the README shows a command no test runs: \(command)")
            }
        }
        #expect(checked >= 28, "README and docs/ commands seen: \(checked)")
        #expect(submitted != nil)
    }
}
