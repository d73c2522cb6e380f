// Repository: where the checkout is, for tests that read its files (README, compose/, Package.swift).

public import Foundation

/// The repository's root (this file is Tests/MeshTestSupport/Repository.swift).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A one-shot signal between threads: `wait` returns once `set` was called (before or after).
public final class ThreadFlag: @unchecked Sendable {
    private let condition = NSCondition()
    private var isSet = false

    public init() {}

    public func set() {
        condition.lock()
        isSet = true
        condition.broadcast()
        condition.unlock()
    }

    public func wait() {
        condition.lock()
        while !isSet { condition.wait() }
        condition.unlock()
    }
}
