// APIKeys: the optional bearer tokens of /submit and /status (`--api-keys-file`).

import FoundationEssentials

/// The keys a client may present as `Authorization: Bearer <key>`.
///
/// The file holds one key per line (blank lines and `#` comments ignored), each 16 to 256
/// printable ASCII characters without spaces — long random strings (`openssl rand -hex 32`).
/// A presented token is compared with every key, each byte of each, whatever matched: how
/// long the check takes says nothing about how close a guess came.
public struct APIKeys: Sendable {
    private let keys: [[UInt8]]

    public var count: Int { keys.count }

    public init(keys: [String]) { self.keys = keys.map { Array($0.utf8) } }

    /// Parses a keys file's text; the error names the line.
    public init(parsing text: String) throws(APIKeysError) {
        var keys: [String] = []
        // "\r\n" is one Character: a file written on Windows splits into lines too.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" }
        for (n, raw) in lines.enumerated() {
            let line = String(raw.drop(while: blank).reversed().drop(while: blank).reversed())
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard (16...256).contains(line.utf8.count), line.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw APIKeysError(line: n + 1, message: "a key is 16-256 printable ASCII characters, no spaces")
            }
            keys.append(line)
        }
        guard !keys.isEmpty else { throw APIKeysError(line: 0, message: "no key in the file") }
        self.init(keys: keys)
    }

    /// Whether `authorization` (the header's value) is `Bearer <one of the keys>`.
    public func admits(_ authorization: String?) -> Bool {
        guard let authorization, authorization.utf8.count > 7,
            authorization.utf8.prefix(7).map({ $0 | 0x20 }).elementsEqual("bearer ".utf8)
        else { return false }
        let token = Array(authorization.utf8.dropFirst(7))
        var admitted: UInt8 = 0
        for key in keys { admitted |= APIKeys.equal(token, key) }
        return admitted == 1
    }

    /// 1 when equal, else 0; time depends on the lengths only, not on where the bytes differ.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> UInt8 {
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        var diff = UInt(bitPattern: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) { diff |= UInt(a[i % a.count] ^ b[i % b.count]) }
        return diff == 0 ? 1 : 0
    }
}

public struct APIKeysError: Error, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { line > 0 ? "line \(line): \(message)" : message }
}
