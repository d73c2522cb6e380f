/* pingpong: the floor under the RPC benchmark — a blocking echo of SIZE-byte messages between two
 * processes over a Unix socket or TCP loopback (TCP_NODELAY), timed per round trip.
 *
 *   pingpong unix|tcp ROUNDS SIZE     → one JSON line: p50/p90/p99 µs and round trips/s
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "pingpong.h"

static void die(const char *what) { perror(what); exit(1); }

static void full_read(int fd, char *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) exit(r == 0 ? 0 : 1);
        got += (size_t)r;
    }
}

static void full_write(int fd, const char *buf, size_t n) {
    size_t put = 0;
    while (put < n) {
        ssize_t w = write(fd, buf + put, n - put);
        if (w <= 0) die("write");
        put += (size_t)w;
    }
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: pingpong unix|tcp ROUNDS SIZE\n"); return 2; }
    int unix_mode = strcmp(argv[1], "unix") == 0;
    long rounds = atol(argv[2]);
    size_t size = (size_t)atol(argv[3]);
    if (rounds <= 0 || size == 0 || size > 65536) { fprintf(stderr, "pingpong: bad ROUNDS or SIZE\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);

    int lfd;
    struct sockaddr_storage addr;
    socklen_t alen;
    char dir[] = "/tmp/pingpong-XXXXXX";
    memset(&addr, 0, sizeof addr);
    if (unix_mode) {
        if (!mkdtemp(dir)) die("mkdtemp");
        struct sockaddr_un *sun = (struct sockaddr_un *)&addr;
        sun->sun_family = AF_UNIX;
        snprintf(sun->sun_path, sizeof sun->sun_path, "%s/s", dir);
        alen = sizeof *sun;
        lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *)&addr;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        alen = sizeof *sin;
        lfd = socket(AF_INET, SOCK_STREAM, 0);
    }
    if (lfd < 0) die("socket");
    if (bind(lfd, (struct sockaddr *)&addr, alen) < 0) die("bind");
    if (listen(lfd, 1) < 0) die("listen");
    if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) die("getsockname");

    char *buf = calloc(1, size);
    pid_t child = fork();
    if (child < 0) die("fork");
    if (child == 0) {  /* server: echo forever */
        pin(1);
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) die("accept");
        int one = 1;
        if (!unix_mode) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        for (;;) { full_read(fd, buf, size); full_write(fd, buf, size); }
    }
    pin(0);
    close(lfd);
    int fd = socket(unix_mode ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
    if (connect(fd, (struct sockaddr *)&addr, alen) < 0) die("connect");
    int one = 1;
    if (!unix_mode) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    for (int i = 0; i < 1000; i++) { full_write(fd, buf, size); full_read(fd, buf, size); }
    double *rtt = malloc(sizeof(double) * (size_t)rounds);
    double start = now_us();
    for (long i = 0; i < rounds; i++) {
        double t = now_us();
        full_write(fd, buf, size);
        full_read(fd, buf, size);
        rtt[i] = now_us() - t;
    }
    double total = now_us() - start;
    close(fd);
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    if (unix_mode) { unlink(((struct sockaddr_un *)&addr)->sun_path); rmdir(dir); }

    report(argv[1], size, rounds, rtt, total);
    return 0;
}
