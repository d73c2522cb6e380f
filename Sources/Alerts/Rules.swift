// Rules: which detectors run and which keywords they look for — data, with the defaults built in.

/// The detection rules. The defaults are the old system's contract plus the v2 detectors, all on; a
/// rules file may change them.
///
/// Rules file format (UTF-8, one setting per line, `#` starts a comment):
///
/// ```
/// # keyword codes: the words that raise them (whole words, ASCII case ignored); "off" disables
/// personal_data = password secret credentials
/// fraud_attempt = fraud, scam, fake
/// # pattern detectors: on or off (the code or its short name: email, card_number, iban, phone,
/// # api_key, private_key, jwt)
/// email_detected = on
/// card_number_detected = on
/// iban = off
/// ```
///
/// A code the file does not mention keeps its default. Keywords must consist of word characters
/// (letters, marks, decimal digits, `_`), since they are matched against whole words.
public struct Rules: Sendable, Hashable {
    public var keywords: [AlertCode: [String]]
    /// The pattern detectors that run (every code but the two keyword codes).
    public var patterns: Set<AlertCode>

    /// The codes decided by a pattern rather than by keywords.
    public static let patternCodes: Set<AlertCode> = Set(AlertCode.allCases).subtracting([.personalData, .fraudAttempt])

    public static let `default` = Rules(
        keywords: [.personalData: ["password", "secret", "credentials"], .fraudAttempt: ["fraud", "scam", "fake"]],
        patterns: patternCodes)

    public init(keywords: [AlertCode: [String]], patterns: Set<AlertCode> = Rules.patternCodes) {
        self.keywords = keywords
        self.patterns = patterns.intersection(Rules.patternCodes)
    }

    /// Whether `code` can fire under these rules.
    public func isEnabled(_ code: AlertCode) -> Bool {
        patterns.contains(code) || !(keywords[code] ?? []).isEmpty
    }

    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var line: Int
        public var problem: String
        public var description: String { "line \(line): \(problem)" }
    }

    /// The longest keyword accepted, in UTF-8 bytes.
    public static let maxKeywordBytes = 64

    /// Parses a rules file; the first problem is thrown with its line number.
    public init(parsing text: String) throws(ParseError) {
        self = .default
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = index + 1
            let content = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = content.trimmed
            if trimmed.isEmpty { continue }
            guard let eq = trimmed.firstIndex(of: "=") else {
                throw ParseError(line: line, problem: "expected \"code = value\", got \"\(trimmed)\"")
            }
            let name = trimmed[..<eq].trimmed
            let value = trimmed[trimmed.index(after: eq)...].trimmed
            guard let code = AlertCode.allCases.first(where: { $0.rawValue == name || $0.shortName == name }) else {
                let known = AlertCode.allCases.map(\.rawValue).joined(separator: ", ")
                throw ParseError(line: line, problem: "unknown alert code \"\(name)\" (known: \(known))")
            }
            switch code {
            case .personalData, .fraudAttempt:
                if value.lowercased() == "off" || value.isEmpty {
                    keywords[code] = []
                    continue
                }
                let words = value.split { $0 == " " || $0 == "," || $0 == "\t" }.map(String.init)
                for w in words {
                    guard w.utf8.count <= Rules.maxKeywordBytes else {
                        throw ParseError(
                            line: line,
                            problem: "keyword \"\(w.prefix(20))…\" is longer than \(Rules.maxKeywordBytes) bytes")
                    }
                    guard w.unicodeScalars.allSatisfy(WordCharacters.isWord) else {
                        throw ParseError(
                            line: line,
                            problem:
                                "keyword \"\(w)\" has a character that is not a letter, mark, digit or _; it could never match a whole word"
                        )
                    }
                }
                keywords[code] = words
            default:
                switch value.lowercased() {
                case "on", "true", "yes": patterns.insert(code)
                case "off", "false", "no": patterns.remove(code)
                default: throw ParseError(line: line, problem: "\(code) takes on or off, got \"\(value)\"")
                }
            }
        }
    }
}

extension Substring {
    fileprivate var trimmed: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return s
    }
}
