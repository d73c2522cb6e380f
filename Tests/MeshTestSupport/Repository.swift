// Repository: where the checkout is, for tests that read its files (README, compose/, Package.swift).

public import Foundation

/// The repository's root (this file is Tests/MeshTestSupport/Repository.swift).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A one-shot signal between threads: `wait` returns once `set` was called (before or after).
public final class ThreadFlag: @unchecked Sendable {
    private let condition = NSCondition()
    private var flag = false

    public init() {}

    public func set() {
        condition.lock()
        flag = true
        condition.broadcast()
        condition.unlock()
    }

    public func wait() {
        condition.lock()
        while !flag { condition.wait() }
        condition.unlock()
    }

    public var isSet: Bool {
        condition.lock()
        defer { condition.unlock() }
        return flag
    }
}
