/* pingpong: the floor under the RPC benchmark — a blocking echo of SIZE-byte messages between two
 * processes over a Unix socket or TCP loopback (TCP_NODELAY), timed per round trip.
 *
 *   pingpong unix|tcp ROUNDS SIZE     → one JSON line: p50/p90/p99 µs and round trips/s
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* Client and server each on a core of their own (the first and second CPU this process may use),
 * like two services: left to the scheduler, they sometimes share a core — a round trip is then a
 * plain context switch, 3 µs instead of 10 — and medians jump between the two. */
static void pin(int nth) {
    cpu_set_t allowed, one;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0 || CPU_COUNT(&allowed) < 2) return;
    for (int cpu = 0, seen = 0; cpu < CPU_SETSIZE; cpu++) {
        if (!CPU_ISSET(cpu, &allowed)) continue;
        if (seen++ == nth) { CPU_ZERO(&one); CPU_SET(cpu, &one); sched_setaffinity(0, sizeof one, &one); return; }
    }
}

static double now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
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

    qsort(rtt, (size_t)rounds, sizeof(double), cmp);
    printf("{\"transport\": \"%s\", \"size\": %zu, \"rounds\": %ld, \"p50_us\": %.2f, \"p90_us\": %.2f, "
           "\"p99_us\": %.2f, \"rtt_per_s\": %.0f}\n",
           argv[1], size, rounds, rtt[rounds / 2], rtt[rounds * 9 / 10], rtt[rounds * 99 / 100], rounds / (total / 1e6));
    return 0;
}
