import Foundation
import Testing

@testable import TaskPipeline

struct TaskResultTests {
    /// The hand-written JSON is byte for byte what JSONEncoder writes (sorted keys, unescaped
    /// slashes), and decodes back to the same result.
    @Test func jsonIsWhatJSONEncoderWrites() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let results = [
            TaskResult(alerts: [], findings: []),
            TaskResult(
                alerts: ["card_number_detected", "email_detected"],
                findings: [
                    TaskResult.Finding(
                        code: "card_number_detected", masked: "4111 **** **** 1111", offset: 3, length: 19,
                        luhnValid: true),
                    TaskResult.Finding(code: "email_detected", masked: "j***@e***.com", offset: 0, length: 16),
                    TaskResult.Finding(
                        code: "x", masked: "quote \" back \\ slash / ключ 秘密", offset: 1_000_000, length: 0,
                        luhnValid: false),
                ],
                findingsTruncated: true),
            TaskResult(status: "processed/\"odd\"", alerts: ["a"], findings: []),
        ]
        for result in results {
            let expected = try encoder.encode(result)
            #expect(String(decoding: result.json(), as: UTF8.self) == String(decoding: expected, as: UTF8.self))
            #expect(try JSONDecoder().decode(TaskResult.self, from: Data(result.json())) == result)
        }
    }

    /// Control characters come out escaped (valid JSON), though not always as JSONEncoder spells them.
    @Test func controlCharactersAreEscaped() throws {
        let result = TaskResult(
            alerts: ["a"],
            findings: [
                TaskResult.Finding(code: "c", masked: "tab\there\nnul\u{0}bell\u{7}del\u{7f}", offset: 0, length: 1)
            ])
        let json = result.json()
        #expect(!json.contains { $0 < 32 })
        #expect(try JSONDecoder().decode(TaskResult.self, from: Data(json)) == result)
    }
}
