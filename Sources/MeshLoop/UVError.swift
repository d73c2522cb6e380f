// UVError: a libuv error code together with the call that returned it.

internal import CLibUV

/// A failed libuv call: `uv_tcp_bind: EADDRINUSE (address already in use)`.
public struct UVError: Error, Sendable, Hashable, CustomStringConvertible {
    /// libuv's negative error code (`UV_ECONNREFUSED`, …).
    public let code: Int32
    /// The call that failed, or what was being done (`uv_tcp_connect`, `connect tcp://…`).
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// libuv's short name of the code (`ECONNREFUSED`).
    public var name: String { String(cString: uv_err_name(code)) }
    /// libuv's human text of the code (`connection refused`).
    public var message: String { String(cString: uv_strerror(code)) }

    public var description: String { "\(operation): \(name) (\(message))" }

    public static let eof = UV_EOF.rawValue
    public static let canceled = UV_ECANCELED.rawValue
    public static let connectionRefused = UV_ECONNREFUSED.rawValue
    public static let connectionReset = UV_ECONNRESET.rawValue
    public static let timedOut = UV_ETIMEDOUT.rawValue
    public static let addressInUse = UV_EADDRINUSE.rawValue
    public static let noEntry = UV_ENOENT.rawValue
    public static let brokenPipe = UV_EPIPE.rawValue
    public static let tryAgain = UV_EAGAIN.rawValue
    public static let invalidArgument = UV_EINVAL.rawValue

    public var isEOF: Bool { code == UVError.eof }
}

/// Throws a `UVError` naming `operation` when a libuv call returned a negative code.
@inline(__always)
func check(_ rc: Int32, _ operation: @autoclosure () -> String) throws(UVError) {
    if rc < 0 { throw UVError(code: rc, operation: operation()) }
}
