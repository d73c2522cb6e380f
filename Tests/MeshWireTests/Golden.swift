// Loads the golden frames of proto/golden/*.hex, the worked examples of proto/PROTOCOL.md.

import Foundation

enum Golden {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("proto/golden")

    /// The bytes of `name`.hex: hex pairs, `#` comment lines ignored.
    static func bytes(_ name: String) -> [UInt8] {
        let text = try! String(contentsOf: directory.appendingPathComponent(name + ".hex"), encoding: .utf8)
        var out: [UInt8] = []
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            for pair in line.split(separator: " ") { out.append(UInt8(pair, radix: 16)!) }
        }
        return out
    }

    static var allNames: [String] {
        (try! FileManager.default.contentsOfDirectory(atPath: directory.path))
            .filter { $0.hasSuffix(".hex") }.map { String($0.dropLast(4)) }.sorted()
    }
}
