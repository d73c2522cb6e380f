// RedactorTests: the log pipeline's safety net masks addresses and card numbers, nothing else.

import Alerts
import Testing

struct RedactorTests {
    let redactor = Redactor()

    @Test func masksAddressesAndCardNumbers() {
        #expect(redactor.redact("mail test@mail.com now") == "mail t***@mail.com now")
        #expect(redactor.redact("card 1234567890123456.") == "card ************3456.")
        #expect(redactor.redact("a@b.io and 4111 1111 1111 1111") == "a***@b.io and **** **** **** 1111")
    }

    @Test func leavesOrdinaryTextAlone() {
        for text in ["task succeeded", "password reset", "port 6379 and 8080", "id 12-34", "x@y"] {
            #expect(redactor.redact(text) == text)
        }
    }
}
