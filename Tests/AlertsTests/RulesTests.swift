// RulesTests: rules files change keywords and detectors; bad files name the line and the problem.

import Alerts
import Testing

@Suite struct RulesTests {
    @Test func aRulesFileChangesTheDefaults() throws {
        let rules = try Rules(
            parsing: """
                # our words
                personal_data = password, pin  passcode
                fraud_attempt = off
                email_detected = off   # no e-mail detection

                """)
        let d = Detector(rules: rules)
        #expect(d.scan("my PIN").alerts.sorted == [.personalData])
        #expect(d.scan("a scam").alerts.isEmpty)
        #expect(d.scan("a@b.com").alerts.isEmpty)
        #expect(d.scan("1234567890").alerts.sorted == [.cardNumberDetected])  // untouched: default on
    }

    @Test func nonASCIIKeywordsMatchExactlyAndASCIIPartsIgnoreCase() throws {
        let d = Detector(rules: try Rules(parsing: "fraud_attempt = мошенничество Betrug"))
        #expect(d.scan("это мошенничество!").alerts.sorted == [.fraudAttempt])
        #expect(d.scan("BETRUG").alerts.sorted == [.fraudAttempt])
        #expect(d.scan("МОШЕННИЧЕСТВО").alerts.isEmpty)  // no Unicode case folding, by contract
    }

    @Test(arguments: [
        ("personal_data password", "line 1: expected \"code = value\", got \"personal_data password\""),
        (
            "\n\nsecrets = x",
            "line 3: unknown alert code \"secrets\" (known: card_number_detected, email_detected, fraud_attempt, personal_data)"
        ),
        ("email_detected = maybe", "line 1: email_detected takes on or off, got \"maybe\""),
        (
            "personal_data = pass-word",
            "line 1: keyword \"pass-word\" has a character that is not a letter, mark, digit or _; it could never match a whole word"
        ),
    ])
    func badFilesNameTheLine(text: String, message: String) {
        #expect(performing: { _ = try Rules(parsing: text) }, throws: { "\($0)" == message })
    }
}
