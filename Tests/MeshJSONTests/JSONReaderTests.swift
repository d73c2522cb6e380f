// JSONReaderTests: the hand-written reader against JSONDecoder, on common and mutated bodies.

import Foundation
import MeshJSON
import Testing

/// The submit body's fast path against JSONDecoder: whatever it reads, JSONDecoder reads the same;
/// whatever JSONDecoder refuses, it leaves alone.
struct JSONReaderTests {
    struct SubmitBody: Decodable {
        var message: String
    }

    func decoded(_ body: [UInt8]) -> String? {
        try? JSONDecoder().decode(SubmitBody.self, from: Data(body)).message
    }

    @Test func theCommonShapesTakeTheFastPath() {
        for body in [
            #"{"message":"hi"}"#, #"{"message": "my card is 4111 1111 1111 1111, ключ"}"#,
            " {\n\t\"message\" : \"\" }\r\n", "{\"message\": \"a/b 'quoted' \u{7f}\"}",
        ] {
            let bytes = Array(body.utf8)
            #expect(JSONReader.plainStringMember("message", of: bytes) != nil, "\(body)")
            #expect(JSONReader.plainStringMember("message", of: bytes) == decoded(bytes))
        }
    }

    @Test func itAgreesWithJSONDecoderOnMutatedBodies() {
        var rng = SystemRandomNumberGenerator()
        let seeds = [
            #"{"message": "hello there"}"#, #"{"message":"x\"y"}"#, #"{"message": "\u00e9"}"#,
            #"{"message": 5}"#, #"{"other": "x"}"#, #"{"message": "a", "message": "b"}"#, #"["message"]"#,
            #"{"message": "é ключ 秘密"}"#,
        ].map { Array($0.utf8) }
        let alphabet: [UInt8] =
            Array(#"{}[]":, \"#.utf8) + [0x00, 0x0A, 0x09, 0x5C, 0x7F, 0xC3, 0xA9, 0xFF, 0x80, 0x61]
        var fast = 0
        for _ in 0..<20_000 {
            var body = seeds.randomElement(using: &rng)!
            for _ in 0..<Int.random(in: 0...3, using: &rng) {
                let at = Int.random(in: 0...body.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: body.insert(alphabet.randomElement(using: &rng)!, at: at)
                case 1: if at < body.count { body.remove(at: at) }
                default: if at < body.count { body[at] = alphabet.randomElement(using: &rng)! }
                }
            }
            if let message = JSONReader.plainStringMember("message", of: body) {
                fast += 1
                #expect(message == decoded(body), "\(body)")
            }
        }
        #expect(fast > 1_000, "the fast path was taken")
    }

    @Test func otherMemberNamesAndNearMissesAreLeftToJSONDecoder() {
        #expect(JSONReader.plainStringMember("text", of: Array(#"{"text": "x"}"#.utf8)) == "x")
        for body in [#"{"messages": "x"}"#, #"{"messag": "x"}"#, #"{"message": "x""#, #"{"message": "x"} x"#, ""] {
            #expect(JSONReader.plainStringMember("message", of: Array(body.utf8)) == nil, "\(body)")
        }
    }
}
