// StatusCode: the call outcome codes of the wire protocol, numbered exactly as gRPC's.

/// The outcome of a call, with gRPC's names and numbers (proto/PROTOCOL.md §Status codes).
///
/// Reusing gRPC's set means people and tools already know what each code means, and rpc-probe can
/// follow grpcurl's exit-code convention (64 + code).
public enum StatusCode: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case ok = 0
    case cancelled = 1
    case unknown = 2
    case invalidArgument = 3
    case deadlineExceeded = 4
    case notFound = 5
    case alreadyExists = 6
    case permissionDenied = 7
    case resourceExhausted = 8
    case failedPrecondition = 9
    case aborted = 10
    case outOfRange = 11
    case unimplemented = 12
    case `internal` = 13
    case unavailable = 14
    case dataLoss = 15
    case unauthenticated = 16

    /// The code's canonical upper-case name, as gRPC spells it (`DEADLINE_EXCEEDED`).
    public var name: String {
        switch self {
        case .ok: "OK"
        case .cancelled: "CANCELLED"
        case .unknown: "UNKNOWN"
        case .invalidArgument: "INVALID_ARGUMENT"
        case .deadlineExceeded: "DEADLINE_EXCEEDED"
        case .notFound: "NOT_FOUND"
        case .alreadyExists: "ALREADY_EXISTS"
        case .permissionDenied: "PERMISSION_DENIED"
        case .resourceExhausted: "RESOURCE_EXHAUSTED"
        case .failedPrecondition: "FAILED_PRECONDITION"
        case .aborted: "ABORTED"
        case .outOfRange: "OUT_OF_RANGE"
        case .unimplemented: "UNIMPLEMENTED"
        case .internal: "INTERNAL"
        case .unavailable: "UNAVAILABLE"
        case .dataLoss: "DATA_LOSS"
        case .unauthenticated: "UNAUTHENTICATED"
        }
    }

    public var description: String { name }

    /// Looks a code up by its canonical name (`"NOT_FOUND"`), case-insensitively.
    public init?(name: String) {
        let upper = name.uppercased()
        guard let code = StatusCode.allCases.first(where: { $0.name == upper }) else { return nil }
        self = code
    }
}
