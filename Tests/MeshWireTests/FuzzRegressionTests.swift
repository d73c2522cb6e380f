// FuzzRegressionTests: replays every input the fuzzer (or a person) saved in Tests/Fuzz/regressions.

import Foundation
import MeshWire
import Testing

@Suite struct FuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/regressions")

    static var inputs: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    @Test func regressionDirectoryIsNotEmpty() {
        #expect(!Self.inputs.isEmpty)
    }

    @Test(arguments: inputs)
    func replay(name: String) throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent(name))
        data.withUnsafeBytes { _ = runFrameDecoderFuzzCase($0) }
    }

    @Test func oversizedThenValidKeepsFraming() throws {
        let data = try Data(contentsOf: Self.directory.appendingPathComponent("oversized-then-valid"))
        // preface, the oversized request, and the PING after it.
        #expect(data.withUnsafeBytes { runFrameDecoderFuzzCase($0) } == 3)
    }

    @Test func goldenFilesSurviveEveryChunking() {
        for name in Golden.allNames {
            let bytes = Golden.bytes(name)
            for control: UInt8 in [0x01, 0x02, 0x13, 0x3F, 0x81, 0x93] {
                ([control] + bytes).withUnsafeBytes { _ = runFrameDecoderFuzzCase($0) }
            }
        }
    }
}
