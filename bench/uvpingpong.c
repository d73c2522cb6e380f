/* uvpingpong: the RPC benchmark's second floor — the same 20-byte REQUEST and RESPONSE frames as an
 * empty call (proto/PROTOCOL.md §3), sent by a client and answered by a server, both written in C
 * on libuv: an event loop per process, non-blocking sockets, uv_try_write and uv_read_start, as the
 * Swift RPC does. The blocking pingpong.c measures the kernel's round trip; this one adds what any
 * libuv program pays (epoll_wait per wakeup, the loop's bookkeeping); what the Swift RPC takes
 * beyond it is ours.
 *
 *   uvpingpong unix|tcp ROUNDS     → one JSON line: p50/p90/p99 µs and round trips/s
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "pingpong.h"

#define FRAME 20
#define WARMUP 1000

static void check(int r, const char *what) {
    if (r < 0) { fprintf(stderr, "uvpingpong: %s: %s\n", what, uv_strerror(r)); exit(1); }
}

/* A frame header: length 16 (no body), magic/version 0xA1, type, no flags, request id, method
 * 0x00010001 (_sys.Echo/Echo), aux 0. */
static void frame(unsigned char *f, unsigned char type, unsigned id) {
    memset(f, 0, FRAME);
    f[3] = 16;
    f[4] = 0xA1;
    f[5] = type;
    f[8] = id >> 24; f[9] = id >> 16; f[10] = id >> 8; f[11] = id;
    f[13] = 1; f[15] = 1;
}

typedef struct {
    uv_stream_t *stream;
    int is_server;
    unsigned char buf[65536];
    size_t have;
    long rounds, done;
    unsigned next_id;
    double sent_at, start, *rtt;
} peer_t;

static void send_frame(peer_t *p, unsigned char type, unsigned id) {
    unsigned char f[FRAME];
    frame(f, type, id);
    uv_buf_t b = uv_buf_init((char *)f, FRAME);
    /* 20 bytes into an idle socket: the write is complete or the benchmark is broken. */
    int r = uv_try_write(p->stream, &b, 1);
    if (r != FRAME) { fprintf(stderr, "uvpingpong: uv_try_write: %s\n", r < 0 ? uv_strerror(r) : "short"); exit(1); }
}

static void send_request(peer_t *p) {
    p->next_id += 2;
    p->sent_at = now_us();
    send_frame(p, 0x03, p->next_id);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
    (void)hint;
    peer_t *p = h->data;
    *b = uv_buf_init((char *)p->buf + p->have, (unsigned)(sizeof p->buf - p->have));
}

static void on_frame(peer_t *p, const unsigned char *f) {
    unsigned id = (unsigned)f[8] << 24 | (unsigned)f[9] << 16 | (unsigned)f[10] << 8 | f[11];
    if (p->is_server) { send_frame(p, 0x04, id); return; }
    long i = p->done++ - WARMUP;
    if (i >= 0) p->rtt[i] = now_us() - p->sent_at;
    if (i == -1) p->start = now_us();
    if (p->done < WARMUP + p->rounds) send_request(p);
    else uv_read_stop(p->stream);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b) {
    (void)b;
    peer_t *p = s->data;
    if (n < 0) { uv_close((uv_handle_t *)s, NULL); return; }
    p->have += (size_t)n;
    size_t at = 0;
    while (p->have - at >= 4) {
        size_t len = 4 + ((size_t)p->buf[at] << 24 | (size_t)p->buf[at + 1] << 16 | (size_t)p->buf[at + 2] << 8 | p->buf[at + 3]);
        if (len > sizeof p->buf) { fprintf(stderr, "uvpingpong: frame too large\n"); exit(1); }
        if (p->have - at < len) break;
        on_frame(p, p->buf + at);
        at += len;
    }
    memmove(p->buf, p->buf + at, p->have - at);
    p->have -= at;
}

static uv_loop_t loop;
static peer_t server_peer, client_peer;
static uv_pipe_t pipe_listener, pipe_conn;
static uv_tcp_t tcp_listener, tcp_conn;
static uv_connect_t connect_req;

static void on_connection(uv_stream_t *listener, int status) {
    check(status, "listen");
    uv_stream_t *conn = listener->type == UV_NAMED_PIPE ? (uv_stream_t *)&pipe_conn : (uv_stream_t *)&tcp_conn;
    if (listener->type == UV_NAMED_PIPE) uv_pipe_init(&loop, &pipe_conn, 0);
    else { uv_tcp_init(&loop, &tcp_conn); uv_tcp_nodelay(&tcp_conn, 1); }
    check(uv_accept(listener, conn), "uv_accept");
    server_peer.stream = conn;
    server_peer.is_server = 1;
    conn->data = &server_peer;
    check(uv_read_start(conn, on_alloc, on_read), "uv_read_start");
}

static void on_connect(uv_connect_t *req, int status) {
    check(status, "connect");
    client_peer.stream = req->handle;
    req->handle->data = &client_peer;
    check(uv_read_start(req->handle, on_alloc, on_read), "uv_read_start");
    send_request(&client_peer);
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: uvpingpong unix|tcp ROUNDS\n"); return 2; }
    int unix_mode = strcmp(argv[1], "unix") == 0;
    long rounds = atol(argv[2]);
    if (rounds <= 0) { fprintf(stderr, "uvpingpong: bad ROUNDS\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);

    /* The listening socket is made before the fork without libuv, so the server (the child) opens
     * it in its loop and the client's loop never owns it (closing a bound uv_pipe_t unlinks its
     * path). */
    char dir[] = "/tmp/uvpingpong-XXXXXX", path[108];
    struct sockaddr_in addr;
    struct sockaddr_un sun;
    int lfd;
    if (unix_mode) {
        if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        snprintf(path, sizeof path, "%s/s", dir);
        strcpy(sun.sun_path, path);
        lfd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sun, sizeof sun) < 0) { perror("bind"); return 1; }
    } else {
        socklen_t alen = sizeof addr;
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        lfd = socket(AF_INET, SOCK_STREAM, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) { perror("bind"); return 1; }
        if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) { perror("getsockname"); return 1; }
    }
    if (listen(lfd, 1) < 0) { perror("listen"); return 1; }

    pid_t child = fork();
    if (child < 0) { perror("fork"); return 1; }
    if (child == 0) {  /* server: answer until the client goes */
        pin(1);
        uv_stream_t *listener;
        check(uv_loop_init(&loop), "uv_loop_init");
        if (unix_mode) {
            uv_pipe_init(&loop, &pipe_listener, 0);
            check(uv_pipe_open(&pipe_listener, lfd), "uv_pipe_open");
            listener = (uv_stream_t *)&pipe_listener;
        } else {
            uv_tcp_init(&loop, &tcp_listener);
            check(uv_tcp_open(&tcp_listener, lfd), "uv_tcp_open");
            listener = (uv_stream_t *)&tcp_listener;
        }
        check(uv_listen(listener, 1, on_connection), "uv_listen");
        uv_run(&loop, UV_RUN_DEFAULT);
        _exit(0);
    }
    pin(0);
    close(lfd);
    check(uv_loop_init(&loop), "uv_loop_init");
    client_peer.rounds = rounds;
    client_peer.rtt = malloc(sizeof(double) * (size_t)rounds);
    if (unix_mode) {
        uv_pipe_init(&loop, &pipe_conn, 0);
        uv_pipe_connect(&connect_req, &pipe_conn, path, on_connect);
    } else {
        uv_tcp_init(&loop, &tcp_conn);
        uv_tcp_nodelay(&tcp_conn, 1);
        check(uv_tcp_connect(&connect_req, &tcp_conn, (struct sockaddr *)&addr, on_connect), "uv_tcp_connect");
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    double total = now_us() - client_peer.start;
    kill(child, SIGTERM);
    waitpid(child, NULL, 0);
    if (unix_mode) { unlink(path); rmdir(dir); }
    if (client_peer.done != WARMUP + rounds) { fprintf(stderr, "uvpingpong: the server went away\n"); return 1; }

    double *rtt = client_peer.rtt;
    report(argv[1], (size_t)FRAME, rounds, rtt, total);
    return 0;
}
