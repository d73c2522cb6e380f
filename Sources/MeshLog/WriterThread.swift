// WriterThread: the log writer's thread and the condition variables it waits and signals on.

import Glibc

/// A condition variable with its own mutex: a timed wait for a signal (the writer waiting for
/// events), and a wait for a predicate (a flush waiting for the writer).
final class ThreadCondition: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var signalled = false

    init() {
        pthread_mutex_init(&mutex, nil)
        var attr = pthread_condattr_t()
        pthread_condattr_init(&attr)
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC)
        pthread_cond_init(&cond, &attr)
        pthread_condattr_destroy(&attr)
    }

    /// Wakes one waiter of `wait(timeoutMs:)`; a signal with no waiter is kept for the next wait.
    func signal() {
        pthread_mutex_lock(&mutex)
        signalled = true
        pthread_cond_signal(&cond)
        pthread_mutex_unlock(&mutex)
    }

    /// Waits for a signal or the timeout, whichever comes first.
    func wait(timeoutMs: Int) {
        pthread_mutex_lock(&mutex)
        if !signalled {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            let ns = Int(ts.tv_nsec) + (timeoutMs % 1000) * 1_000_000
            ts.tv_sec += timeoutMs / 1000 + ns / 1_000_000_000
            ts.tv_nsec = ns % 1_000_000_000
            pthread_cond_timedwait(&cond, &mutex, &ts)
        }
        signalled = false
        pthread_mutex_unlock(&mutex)
    }

    /// Wakes every waiter of `wait(until:)`, to look at their predicate again. Called after the
    /// state a predicate reads has changed; taking the mutex here is what makes a wake-up between
    /// a waiter's check and its sleep impossible.
    func broadcast() {
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
    }

    /// Sleeps until `predicate` holds (checked under the mutex, again after every broadcast).
    func wait(until predicate: () -> Bool) {
        pthread_mutex_lock(&mutex)
        while !predicate() { pthread_cond_wait(&cond, &mutex) }
        pthread_mutex_unlock(&mutex)
    }
}

/// A plain, detached pthread running one closure.
final class Thread: @unchecked Sendable {
    private let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }

    func start() {
        var thread = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(
            &thread, nil,
            { raw in
                let me = Unmanaged<Thread>.fromOpaque(raw!).takeRetainedValue()
                me.body()
                return nil
            }, context)
        pthread_detach(thread)
    }
}
