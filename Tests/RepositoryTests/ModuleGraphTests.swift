// ModuleGraphTests: every `import` in Sources/ is an edge the layering allows, and the README's
// module table says what Package.swift says.

import Foundation
import MeshTestSupport
import Testing

/// What each module may import. Edges only point down: pure modules import nothing of ours and
/// no system library; the event loop sits on libuv alone; a service's logic imports the contract
/// of the service it calls, never that service's implementation. A new edge is a design
/// decision: add it here, in the same commit, and say why in its message.
let allowedImports: [String: Set<String>] = [
    // Pure: no I/O, no system library.
    "MeshWire": [],
    "Alerts": [],
    "MeshJSON": [],
    "TaskPipeline": ["MeshJSON"],
    // Leaves over the C library.
    "MeshTime": ["Glibc"],
    "MeshLoop": ["CLibUV", "Glibc", "Synchronization"],
    "MeshLog": ["MeshTime", "Logging", "Glibc", "Synchronization"],
    "MeshProto": ["SwiftProtobuf", "Foundation", "FoundationEssentials"],
    // Transports on the loop.
    "MeshHTTP": ["CHTTPParser", "MeshLoop", "MeshJSON", "Glibc"],
    "MeshRedis": ["CHiredis", "MeshLoop"],
    "MeshTLS": ["COpenSSL", "MeshLoop"],
    "MeshRPC": ["MeshWire", "MeshLoop", "MeshProto", "MeshTLS", "SwiftProtobuf", "Logging", "Histogram"],
    // The pipeline in Redis, and the alert service's contract.
    "TaskQueue": ["MeshRedis", "MeshLoop", "TaskPipeline"],
    "AlertContract": ["MeshRPC", "MeshProto"],
    // Each service's logic.
    "AlertService": [
        "Alerts", "AlertContract", "TaskPipeline", "MeshRPC", "MeshLoop", "MeshTime", "MeshProto", "MeshWire",
        "Logging", "Glibc",
    ],
    "APIService": [
        "MeshHTTP", "MeshJSON", "TaskQueue", "TaskPipeline", "MeshRedis", "MeshRPC", "MeshProto", "MeshLoop",
        "MeshTime", "AlertContract", "MeshTLS", "Logging", "FoundationEssentials",
    ],
    "TaskWorker": [
        "TaskQueue", "TaskPipeline", "AlertContract", "MeshRPC", "MeshProto", "MeshWire", "MeshLoop", "MeshTime",
        "Logging",
    ],
    "LoadGenerator": [
        "MeshHTTP", "MeshJSON", "MeshLoop", "MeshTime", "Alerts", "Histogram", "Glibc", "FoundationEssentials",
    ],
    "MeshOptions": [
        "MeshTLS", "MeshLoop", "MeshLog", "MeshRedis", "ArgumentParser", "Logging", "Glibc", "FoundationEssentials",
    ],
    // Executables wire the layers below; they never import each other.
    "alert-service": [
        "AlertService", "AlertContract", "Alerts", "MeshRPC", "MeshLoop", "MeshOptions", "MeshLog", "ArgumentParser",
        "Logging", "Foundation", "Glibc",
    ],
    "api-service": [
        "APIService", "MeshHTTP", "MeshLoop", "MeshOptions", "MeshRedis", "TaskQueue", "Alerts", "MeshLog",
        "ArgumentParser", "Logging", "Glibc", "FoundationEssentials",
    ],
    "worker": [
        "TaskWorker", "TaskQueue", "TaskPipeline", "MeshRPC", "MeshRedis", "MeshLoop", "MeshOptions", "Alerts",
        "MeshLog", "AlertContract", "ArgumentParser", "Logging", "Foundation", "Glibc",
    ],
    "loadgen": ["LoadGenerator", "MeshLoop", "MeshOptions", "ArgumentParser", "FoundationEssentials", "Glibc"],
    "rpc-probe": [
        "MeshRPC", "MeshWire", "MeshLoop", "MeshProto", "MeshOptions", "ArgumentParser", "SwiftProtobuf",
        "Histogram", "Foundation", "Glibc",
    ],
]

/// A target of Package.swift: its name, kind and the names in its `dependencies:` list.
struct ManifestTarget {
    var name: String
    var kind: String
    var path: String?
    var dependencies: [String]
}

/// The targets of Package.swift, read from its text (the manifest is plain literals: no code
/// computes a target, so a scan is exact — and `swift package dump-package` would contend with
/// the running test build for the build directory's lock).
func manifestTargets() throws -> [ManifestTarget] {
    let text = try String(contentsOf: repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
    var out: [ManifestTarget] = []
    var rest = text[...]
    while let open = rest.firstMatch(of: /\.(target|executableTarget|testTarget|systemLibrary)\(/) {
        // The call's text up to its balanced closing parenthesis.
        var depth = 1
        var i = open.range.upperBound
        while i < rest.endIndex, depth > 0 {
            if rest[i] == "(" { depth += 1 } else if rest[i] == ")" { depth -= 1 }
            i = rest.index(after: i)
        }
        let call = rest[open.range.upperBound..<i]
        rest = rest[i...]
        guard let name = call.firstMatch(of: /name: "([^"]+)"/)?.1 else { continue }
        var dependencies: [String] = []
        if let list = call.firstMatch(of: /dependencies: \[((?s).*?)\]/)?.1 {
            // `"X"` is a target; `.product(name: "Y", …)` a product.
            for m in list.matches(of: /(?:\.product\(name: )?"([^"]+)"(?:, package: "[^"]+"\))?/) {
                dependencies.append(String(m.1))
            }
        }
        let path = call.firstMatch(of: /path: "([^"]+)"/).map { String($0.1) }
        out.append(ManifestTarget(name: String(name), kind: String(open.1), path: path, dependencies: dependencies))
    }
    return out
}

/// The `import`s of a Swift file (any access level, `@testable`, `import struct X.Y`).
func imports(ofFile url: URL) throws -> Set<String> {
    let text = try String(contentsOf: url, encoding: .utf8)
    var out: Set<String> = []
    for line in text.split(separator: "\n") where line.contains("import ") {
        let pattern =
            /^\s*(?:@\w+\s+)*(?:(?:public|package|internal|fileprivate|private)\s+)?import\s+(?:(?:class|struct|enum|protocol|func|var|let|typealias)\s+)?([A-Za-z_][A-Za-z0-9_]*)/
        if let m = line.firstMatch(of: pattern) { out.insert(String(m.1)) }
    }
    return out
}

func swiftFiles(under directory: URL) -> [URL] {
    let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
    return (walker?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "swift" }
}

@Suite struct ModuleGraphTests {
    /// The modules under Sources/ with their folders (Package.swift's `path:` where it has one).
    func sourceModules() throws -> [(name: String, directory: URL)] {
        try manifestTargets().compactMap { t in
            guard t.kind == "target" || t.kind == "executableTarget" else { return nil }
            let path = t.path ?? "Sources/\(t.name)"
            guard path.hasPrefix("Sources/") else { return nil }  // bench/ and test helpers
            return (t.name, repositoryRoot.appendingPathComponent(path))
        }
    }

    @Test func everyImportInSourcesIsAnAllowedEdge() throws {
        let modules = try sourceModules()
        #expect(modules.count >= 20, "Package.swift was not read: \(modules.map(\.name))")
        var unexpected: [String] = []
        for (module, directory) in modules {
            guard let allowed = allowedImports[module] else {
                unexpected.append("\(module): not in the allowed table (ModuleGraphTests.allowedImports)")
                continue
            }
            for file in swiftFiles(under: directory) where file.lastPathComponent.hasSuffix(".pb.swift") == false {
                for imported in try imports(ofFile: file) where !allowed.contains(imported) {
                    unexpected.append("\(module) imports \(imported) (\(file.lastPathComponent))")
                }
            }
        }
        #expect(unexpected.isEmpty, "edges the layering does not allow:\n\(unexpected.joined(separator: "\n"))")
    }

    /// A service binary is linked statically; one symbol of Foundation itself (not
    /// FoundationEssentials) brings all of it, ICU included: a binary twice the size and
    /// megabytes more RSS in every process (85ca35f). Even without `import Foundation`, a String
    /// method can resolve to Foundation's through a module that imports it (SwiftProtobuf). So:
    /// the compiled objects of everything the three services link may not reference the module
    /// Foundation.
    @Test func theServicesReferenceNothingOfFoundationItself() throws {
        let targets = Dictionary(try manifestTargets().map { ($0.name, $0) }) { a, _ in a }
        var linked: Set<String> = []
        var next = ["api-service", "worker", "alert-service"]
        while let name = next.popLast() {
            guard let t = targets[name], t.path == nil || t.path!.hasPrefix("Sources/"), linked.insert(name).inserted
            else { continue }
            next += t.dependencies
        }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if dir.path.hasSuffix(".xctest") { dir.deleteLastPathComponent() }
        var scanned = 0
        for module in linked.sorted() {
            let objects = dir.appendingPathComponent(module.replacingOccurrences(of: "-", with: "_") + ".build")
            let files = (try? FileManager.default.contentsOfDirectory(atPath: objects.path)) ?? []
            // The objects of this tree's files (a build directory keeps those of removed files).
            let sources = Set(
                swiftFiles(under: repositoryRoot.appendingPathComponent(targets[module]?.path ?? "Sources/\(module)"))
                    .map { $0.lastPathComponent + ".o" })
            for file in files where sources.contains(file) {
                let nm = runProcess("/usr/bin/env", ["nm", "-u", objects.appendingPathComponent(file).path])
                try #require(nm.status == 0, "nm: \(nm.stderr)")
                scanned += 1
                // Swift mangles the module as its name's length and name: "10Foundation" is
                // Foundation; FoundationEssentials is "20FoundationEssentials".
                let uses = nm.stdout.split(separator: "\n").filter { $0.contains("10Foundation") }
                #expect(uses.isEmpty, "\(module)/\(file) uses Foundation: \(uses.prefix(3))")
            }
        }
        #expect(linked.count > 10 && scanned > 50, "\(linked.count) modules, \(scanned) objects scanned in \(dir.path)")
    }

    @Test func theScannerSeesEveryFormOfImport() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("imports-\(getpid()).swift")
        defer { try? FileManager.default.removeItem(at: file) }
        try """
        import A
        public import B
        @testable import C
        internal import struct D.Thing
          @_implementationOnly import E
        // import NotThis
        let s = "import NorThis"
        """.write(to: file, atomically: true, encoding: .utf8)
        #expect(try imports(ofFile: file) == ["A", "B", "C", "D", "E"])
    }

    @Test func theTableHasNoModuleThatIsGone() throws {
        let names = Set(try sourceModules().map(\.name))
        #expect(Set(allowedImports.keys).subtracting(names).isEmpty)
    }

    /// The README's module table (`| \`Module\` | role | depends on |`) lists every module under
    /// Sources/ once, and each row's dependencies among our own modules are Package.swift's.
    @Test func theReadmeModuleTableMatchesPackageSwift() throws {
        let targets = try manifestTargets()
        let ours = Set(targets.filter { $0.kind != "testTarget" }.map(\.name))
        let byName = Dictionary(targets.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let sources = Set(try sourceModules().map(\.name)).union(
            targets.filter { $0.kind == "systemLibrary" }.map(\.name))
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        guard let header = readme.range(of: "| module | role | depends on |") else {
            Issue.record("README.md has no module table (| module | role | depends on |)")
            return
        }
        var listed: [String] = []
        for line in readme[header.upperBound...].split(separator: "\n").dropFirst() {
            guard line.hasPrefix("|") else { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count >= 4 else { continue }
            let names = cells[1].matches(of: /`([^`]+)`/).map { String($0.1) }
            listed += names
            let written = Set(cells[3].matches(of: /[A-Za-z][A-Za-z0-9-]*/).map { String($0.0) }).intersection(ours)
            let declared = Set(names.flatMap { byName[$0]?.dependencies ?? [] }).intersection(ours)
            #expect(
                written == declared, "README row \(names): says \(written.sorted()), Package.swift \(declared.sorted())"
            )
        }
        #expect(listed.count == Set(listed).count, "a module is listed twice: \(listed)")
        #expect(
            Set(listed) == sources,
            "README lists \(Set(listed).subtracting(sources).sorted()) that are not modules, misses \(sources.subtracting(listed).sorted())"
        )
    }
}
