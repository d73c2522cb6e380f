// LoadReport: what a load run measured, as `loadgen --json` prints it.

extension LoadRun {
    /// What a run measured (`--json` prints it).
    public struct Report: Codable, Sendable {
        public var mode = ""
        public var submitted = 0
        public var accepted = 0
        public var completed = 0
        public var failed = 0
        public var lost = 0
        public var wrong = 0
        public var errors: [String: Int] = [:]
        public var submit_seconds = 0.0
        public var submit_per_s = 0.0
        public var submit_p50_ms = 0.0
        public var submit_p90_ms = 0.0
        public var submit_p99_ms = 0.0
        public var submit_p999_ms = 0.0
        public var submit_max_ms = 0.0
        public var completed_per_s = 0.0
        public var e2e_p50_ms = 0.0
        public var e2e_p90_ms = 0.0
        public var e2e_p99_ms = 0.0
        public var e2e_max_ms = 0.0
        public var polls = 0
        /// Whose clock ended each submit-to-done time: `server` (the status's `updated_at`),
        /// `client` (the poll that saw it finished — an API without timestamps, such as the
        /// Celery design; it includes the polling delay), or `server and client`.
        public var e2e_clock = "server"
    }
}
