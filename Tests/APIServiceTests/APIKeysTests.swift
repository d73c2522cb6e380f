// APIKeysTests: the --api-keys-file format and the bearer check.

import APIService
import Testing

@Suite struct APIKeysTests {
    let key = "0123456789abcdef0123456789abcdef"

    @Test func commentsBlanksAndWindowsLineEndsAreRead() throws {
        let keys = try APIKeys(parsing: "# keys of the mesh\r\n\r\n  \(key)  \r\nkey-two-of-sixteen+chars\n# end")
        #expect(keys.count == 2)
        #expect(keys.admits("Bearer \(key)"))
        #expect(keys.admits("bearer key-two-of-sixteen+chars"))
    }

    @Test(arguments: [
        ("short-key\n", "line 1: a key is 16-256"),
        ("# a comment\n\(String(repeating: "k", count: 257))", "line 2: a key is 16-256"),
        ("0123456789abcdef 0123\n", "line 1: a key is 16-256"),
        ("0123456789abcdéf0123\n", "line 1: a key is 16-256"),
        ("# nothing but comments\n\n", "no key in the file"),
    ])
    func aBadFileIsRefusedNamingTheLine(text: String, message: String) {
        #expect {
            try APIKeys(parsing: text)
        } throws: { error in
            "\(error)".hasPrefix(message)
        }
    }

    @Test func onlyAPresentedKeyIsAdmitted() throws {
        let keys = try APIKeys(parsing: key)
        for refused in [
            nil, "", "Bearer", "Bearer ", "Basic \(key)", "Bearer \(key)x", "Bearer \(key.dropLast())",
            "Bearer  \(key)", "\(key)",
        ] {
            #expect(!keys.admits(refused), "\(refused ?? "nil")")
        }
        #expect(keys.admits("BEARER \(key)"))
    }
}
