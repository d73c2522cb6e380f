// TaskState: the life of a task, as clients read it from GET /status.

/// A task's state. PENDING → STARTED → SUCCESS, or STARTED → RETRY → STARTED … → FAILURE.
/// SUCCESS and FAILURE are terminal and sticky: no worker moves a task out of them. The one way
/// out is an operator's: re-driving a dead letter puts a FAILURE back to PENDING.
public enum TaskState: String, Sendable, CaseIterable, Codable {
    case pending = "PENDING"
    case started = "STARTED"
    case retry = "RETRY"
    case success = "SUCCESS"
    case failure = "FAILURE"

    public var isTerminal: Bool { self == .success || self == .failure }

    /// Whether an operator may re-drive the task (back to PENDING, attempts reset): only a failure.
    public var canRedrive: Bool { self == .failure }

    /// Whether a worker may move a task from `self` to `next`.
    public func canMove(to next: TaskState) -> Bool {
        switch (self, next) {
        case (.pending, .started), (.retry, .started): true
        case (.started, .success), (.started, .retry), (.started, .failure): true
        // A redelivered task (its worker died) starts again, and a poison task is failed from any
        // live state.
        case (.started, .started), (.pending, .failure), (.retry, .failure): true
        // An attempt no service took goes back uncounted.
        case (.started, .pending): true
        default: false
        }
    }
}
