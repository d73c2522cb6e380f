import Foundation
import Testing

@testable import MeshJSON

struct JSONTextTests {
    /// Every string comes back unchanged through JSONDecoder, whatever it holds.
    @Test func stringsRoundTripThroughJSONDecoder() throws {
        var samples = [
            "", "plain", "quote \" backslash \\ slash /", "ключ 秘密 🔑", "\u{0}\u{1}\u{8}\u{c}\t\n\r\u{1f}\u{7f}",
        ]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let scalars = (0..<Int.random(in: 0..<40, using: &generator)).compactMap { _ in
                Unicode.Scalar(UInt32.random(in: 0..<0x800, using: &generator))
            }
            samples.append(String(String.UnicodeScalarView(scalars)))
        }
        for sample in samples {
            var out: [UInt8] = []
            JSONText.appendString(sample, to: &out)
            #expect(!out.contains { $0 < 32 }, "control characters are escaped")
            #expect(try JSONDecoder().decode(String.self, from: Data(out)) == sample)
        }
    }

    @Test func numbersAndLiterals() {
        var out: [UInt8] = []
        JSONText.appendInt(-12, to: &out)
        out.append(UInt8(ascii: ","))
        JSONText.appendBool(true, to: &out)
        out.append(UInt8(ascii: ","))
        JSONText.appendBool(false, to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "-12,true,false")
    }
}
