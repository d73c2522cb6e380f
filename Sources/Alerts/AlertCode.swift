// AlertCode: the four alert codes, a compatibility contract with clients of the old system.

/// What a message can raise. The raw values are the wire names clients read.
public enum AlertCode: String, Sendable, CaseIterable, Comparable, CustomStringConvertible {
    case cardNumberDetected = "card_number_detected"
    case emailDetected = "email_detected"
    case fraudAttempt = "fraud_attempt"
    case personalData = "personal_data"

    public var description: String { rawValue }

    public static func < (a: AlertCode, b: AlertCode) -> Bool { a.rawValue < b.rawValue }

    var bit: UInt8 {
        switch self {
        case .cardNumberDetected: 1
        case .emailDetected: 2
        case .fraudAttempt: 4
        case .personalData: 8
        }
    }
}

/// A set of alert codes without allocation; `sorted` lists them in the contract's order.
public struct AlertSet: Sendable, Hashable {
    public private(set) var bits: UInt8 = 0

    public init() {}

    public init(_ codes: [AlertCode]) { for c in codes { insert(c) } }

    public mutating func insert(_ code: AlertCode) { bits |= code.bit }
    public func contains(_ code: AlertCode) -> Bool { bits & code.bit != 0 }
    public var isEmpty: Bool { bits == 0 }

    /// The codes that fired, sorted, each once.
    public var sorted: [AlertCode] { AlertCode.allCases.sorted().filter(contains) }
}
