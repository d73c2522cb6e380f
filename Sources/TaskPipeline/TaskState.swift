// TaskState: the life of a task, as clients read it from GET /status.

/// A task's state. PENDING → STARTED → SUCCESS, or STARTED → RETRY → STARTED … → FAILURE.
/// SUCCESS and FAILURE are terminal and sticky: nothing moves a task out of them.
public enum TaskState: String, Sendable, CaseIterable, Codable {
    case pending = "PENDING"
    case started = "STARTED"
    case retry = "RETRY"
    case success = "SUCCESS"
    case failure = "FAILURE"

    public var isTerminal: Bool { self == .success || self == .failure }

    /// Whether a task may move from `self` to `next`.
    public func canMove(to next: TaskState) -> Bool {
        switch (self, next) {
        case (.pending, .started), (.retry, .started): true
        case (.started, .success), (.started, .retry), (.started, .failure): true
        // A redelivered task (its worker died) starts again, and a poison task is failed from any
        // live state.
        case (.started, .started), (.pending, .failure), (.retry, .failure): true
        default: false
        }
    }
}
