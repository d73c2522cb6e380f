// CLibUV: the only door from Swift to libuv. Includes plus tiny helpers Swift cannot express.
#ifndef ALERTMESH_CLIBUV_SHIM_H
#define ALERTMESH_CLIBUV_SHIM_H

#include <uv.h>
#include <signal.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/un.h>
#include <errno.h>

/// uv_buf_init is a function, but building the struct by hand keeps Swift free of field-order guesses.
static inline uv_buf_t CLibUV_buf(void *base, size_t len) {
    return uv_buf_init((char *)base, (unsigned int)len);
}

/// SIGPIPE must be ignored by every process that writes to sockets (hiredis and libuv both say so):
/// a write to a closed peer then fails with EPIPE instead of killing the process.
static inline void CLibUV_ignoreSIGPIPE(void) {
    signal(SIGPIPE, SIG_IGN);
}

/// A process may start with signals blocked (its parent's mask is inherited across exec: test
/// runners and some supervisors block SIGTERM/SIGINT in their threads). A signal we watch must be
/// deliverable, so the loop thread unblocks it.
static inline int CLibUV_unblockSignal(int signum) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signum);
    return pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/// Bytes a TCP socket has sent or queued that the peer's kernel has not acknowledged (SIOCOUTQ:
/// write_seq - snd_una); -1 on error. ioctl is variadic, which Swift cannot call.
#include <sys/ioctl.h>
#include <linux/sockios.h>
static inline int CLibUV_unacknowledged(int fd) {
    int n = 0;
    return ioctl(fd, SIOCOUTQ, &n) == 0 ? n : -1;
}

/// syncfs(2) is declared only under _GNU_SOURCE, which Swift's Glibc module is built without.
#include <unistd.h>
int syncfs(int fd);
static inline int CLibUV_syncfs(int fd) {
    return syncfs(fd);
}

#endif
