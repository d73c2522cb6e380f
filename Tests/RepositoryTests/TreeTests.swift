// TreeTests: the checkout works on every file system, links resolve, and files stay one job long.

import Foundation
import MeshTestSupport
import Testing

/// Every file of the work tree, relative to the root, without build output and Git's own folder.
func treeFiles() -> [String] {
    let root = repositoryRoot.standardizedFileURL.path
    var out: [String] = []
    let walker = FileManager.default.enumerator(atPath: root)
    while let path = walker?.nextObject() as? String {
        let top = path.split(separator: "/").first.map(String.init) ?? path
        if top == ".git" || top.hasPrefix(".build") || top == "run" || top == "data" {
            walker?.skipDescendants()
            continue
        }
        out.append(path)
    }
    return out
}

/// Paths that differ only by letter case, as groups.
func caseCollisions(_ paths: [String]) -> [[String]] {
    Dictionary(grouping: paths, by: { $0.lowercased() }).values.filter { $0.count > 1 }.map { $0.sorted() }
}

@Suite struct TreeTests {
    /// On a case-insensitive file system (macOS's default) two such paths check out as one, and
    /// the build (or a Docker build context) breaks.
    @Test func noTwoPathsDifferOnlyByCase() {
        let files = treeFiles()
        #expect(files.contains("Package.swift"))
        #expect(caseCollisions(files).isEmpty, "\(caseCollisions(files))")
    }

    @Test func theCollisionCheckFindsWhatItShould() {
        #expect(
            caseCollisions(["Sources/Worker/a.swift", "Sources/worker", "Sources/Worker"]) == [
                ["Sources/Worker", "Sources/worker"]
            ])
        #expect(caseCollisions(["a/b", "a/c"]).isEmpty)
    }

    /// Every relative link and `#anchor` of the README and docs/ points at something that exists.
    @Test func everyLinkInTheDocumentationResolves() throws {
        let documents = ["README.md"] + treeFiles().filter { $0.hasPrefix("docs/") && $0.hasSuffix(".md") }
        #expect(documents.count > 1, "docs/ has no pages")
        var broken: [String] = []
        for document in documents {
            let url = repositoryRoot.appendingPathComponent(document)
            let text = try String(contentsOf: url, encoding: .utf8)
            for m in text.matches(of: /\]\(([^)\s]+)\)/) {
                let target = String(m.1)
                if target.hasPrefix("http://") || target.hasPrefix("https://") { continue }
                let parts = target.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
                let file =
                    parts[0].isEmpty ? document : (document as NSString).deletingLastPathComponent + "/" + parts[0]
                let resolved = repositoryRoot.appendingPathComponent(file).standardizedFileURL
                guard FileManager.default.fileExists(atPath: resolved.path) else {
                    broken.append("\(document): \(target) (no such file)")
                    continue
                }
                if parts.count == 2, resolved.pathExtension == "md" {
                    let anchors = try headingAnchors(String(contentsOf: resolved, encoding: .utf8))
                    if !anchors.contains(String(parts[1])) { broken.append("\(document): \(target) (no such heading)") }
                }
            }
        }
        #expect(broken.isEmpty, "\(broken.joined(separator: "\n"))")
    }

    /// GitHub's anchors: headings lower-cased, punctuation dropped, spaces as dashes.
    func headingAnchors(_ markdown: String) -> Set<String> {
        var out: Set<String> = []
        var inCode = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inCode.toggle() }
            guard !inCode, line.hasPrefix("#") else { continue }
            let title = line.drop { $0 == "#" }.trimmingCharacters(in: .whitespaces).lowercased()
            out.insert(
                String(
                    title.compactMap { c -> Character? in
                        if c == " " { return "-" }
                        return c.isLetter || c.isNumber || c == "-" || c == "_" ? c : nil
                    }))
        }
        return out
    }

    /// One job per file: a production file past 350 lines is several. The detector's hot loop
    /// is one function held by its differential test, and generated code is not ours to split.
    @Test func noProductionFileIsLongerThanOneJob() throws {
        let exempt: Set<String> = ["Sources/Alerts/Detector.swift"]
        var long: [String] = []
        for path in treeFiles() where path.hasPrefix("Sources/") && path.hasSuffix(".swift") {
            guard !exempt.contains(path), !path.hasSuffix(".pb.swift") else { continue }
            let text = try String(contentsOf: repositoryRoot.appendingPathComponent(path), encoding: .utf8)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count - 1
            if lines > 350 { long.append("\(path): \(lines) lines") }
        }
        #expect(long.isEmpty, "\(long.joined(separator: "\n"))")
    }

    /// The README holds the essentials; the long material lives in docs/.
    @Test func theReadmeStaysShort() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count - 1
        #expect(lines <= 350, "README.md has \(lines) lines")
        #expect(text.prefix(600).contains("Linux (Debian 12)"))
    }
}
