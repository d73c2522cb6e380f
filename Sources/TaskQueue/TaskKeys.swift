// TaskKeys: where the pipeline keeps its data in Redis.

/// The Redis key layout. Every key starts with the hash-tagged prefix (`{alertmesh}` by default),
/// so all of them live in one slot and the layout (and its multi-key Lua scripts) can move to Redis
/// Cluster unchanged.
///
/// - `<p>:tasks` — the work stream; entries carry only `task_id` (the payload is in the task hash,
///   so entries can be deleted freely); consumer group `workers`.
/// - `<p>:task:<id>` — a hash per task: `state`, `message` (until terminal), `attempts`,
///   `created_at`, `updated_at` (ms since the epoch), `result`, `error`, `worker`, `entry`,
///   `retry_at`. Expires `resultTTL` after reaching a terminal state; never before.
/// - `<p>:delayed` — a sorted set of task ids waiting for a retry, scored by due time (ms).
/// - `<p>:dead` — the dead-letter stream (capped): tasks that failed for good, with their message.
/// - `<p>:idem:<key>` — an Idempotency-Key's task id and message digest, for 24 h.
/// - `<p>:counters` — a hash of totals kept by the scripts: `submitted`, `succeeded`, `failed`,
///   `retried`, `poisoned` (tasks by final state, across every worker, for `/metrics`).
public struct TaskKeys: Sendable, Hashable {
    public let prefix: String
    public let group: String

    public init(prefix: String = "{alertmesh}", group: String = "workers") {
        self.prefix = prefix
        self.group = group
    }

    public var stream: String { prefix + ":tasks" }
    public var delayed: String { prefix + ":delayed" }
    public var dead: String { prefix + ":dead" }
    public var counters: String { prefix + ":counters" }
    public var taskPrefix: String { prefix + ":task:" }
    public func task(_ id: String) -> String { taskPrefix + id }
    public func idempotency(_ key: String) -> String { prefix + ":idem:" + key }
}
