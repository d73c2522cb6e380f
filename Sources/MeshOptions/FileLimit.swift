// FileLimit: the open-file limit every service raises at start, and the check against its caps.

import Glibc
public import Logging

/// The process's `RLIMIT_NOFILE`.
///
/// Distributions start processes with a soft limit of 1024 open files while allowing far more
/// (the hard limit); a service that caps its connections at 4096 would hit EMFILE first, and a
/// refused `accept` is a worse failure than the cap's clear answer. So every service raises its
/// soft limit to the hard one at start, and says once when its caps still do not fit.
public enum FileLimit {
    /// Descriptors a service uses besides its connections: listeners, log file, Redis, timers'
    /// internals, reports being written.
    public static let reserve: UInt64 = 64

    /// Raises the soft limit to the hard limit; returns the soft limit in force afterwards.
    @discardableResult
    public static func raiseToHard() -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return UInt64(raised.rlim_max) }
        }
        return UInt64(limit.rlim_cur)
    }

    /// Raises the limit and logs one warning when `connections` (the sum of the service's
    /// connection caps) plus `reserve` exceed it.
    public static func raise(forConnections connections: Int, logger: Logger) {
        let limit = raiseToHard()
        let wanted = UInt64(max(0, connections)) + reserve
        guard limit < wanted else { return }
        logger.warning(
            "open-file limit below the connection caps: connections past it fail with EMFILE before the cap answers",
            metadata: ["nofile_limit": "\(limit)", "connection_caps": "\(connections)", "wanted": "\(wanted)"])
    }
}
