// RedactorTests: the log pipeline's safety net masks what the pattern detectors find, nothing else.

import Alerts
import Testing

struct RedactorTests {
    let redactor = Redactor()

    @Test func masksAddressesAndCardNumbers() {
        #expect(redactor.redact("mail test@mail.com now") == "mail t***@mail.com now")
        #expect(redactor.redact("card 1234567890123456.") == "card ************3456.")
        #expect(redactor.redact("a@b.io and 4111 1111 1111 1111") == "a***@b.io and **** **** **** 1111")
    }

    @Test func masksTheV2Findings() {
        let line =
            "refund to DE89370400440532013000 or call +44 20 7946 0958, token ghp_1a2b3c4d5e6f7g8h9i0jKLMNOPQRSTUVWXYZ"
        let masked = redactor.redact(line)
        for secret in ["370400440532", "7946", "1a2b3c4d5e6f7g8h9i0j"] {
            #expect(!masked.contains(secret), "\(masked)")
        }
        #expect(masked.contains("DE89 **** **** **** **** 00"))
        #expect(masked.contains("ghp_…WXYZ"))
        let jwt = redactor.redact("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLWJ5dGVz ok")
        #expect(jwt == "Bearer alg=HS256 ok")
        // A private key loses its body up to the END line, or to the end of the text.
        let pem = "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY----- done"
        #expect(redactor.redact(pem) == "key: -----BEGIN RSA PRIVATE KEY-----… done")
        #expect(redactor.redact("-----BEGIN PRIVATE KEY-----MIIEvQIBADANBg") == "-----BEGIN PRIVATE KEY-----…")
    }

    @Test func leavesOrdinaryTextAlone() {
        for text in ["task succeeded", "password reset", "port 6379 and 8080", "id 12-34", "x@y"] {
            #expect(redactor.redact(text) == text)
        }
    }

    @Test func withSecretsTheValueAfterASecretKeywordIsMaskedToo() {
        let r = Redactor(secrets: true)
        #expect(r.redact("password=hunter2 thanks") == "p*******=******* thanks")
        #expect(r.redact("my secret: \"s3cr3t!\", ok") == "my s*****: \"*******\", ok")
        #expect(
            r.redact("credentials a@b.io card 4111 1111 1111 1111")
                == "c********** a***@b.io card **** **** **** 1111", "a finding after a keyword is masked as itself")
        #expect(r.redact("fraud scheme") == "f**** scheme", "fraud words are masked, not what follows")
        #expect(r.redact("nothing here") == "nothing here")
        #expect(!r.redact("task 7: password=hunter7").contains("hunter7"))
    }
}
