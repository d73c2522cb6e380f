/* pingpong.h: what the two C floors of the RPC benchmark share (pingpong.c, uvpingpong.c) — core
 * pinning, the clock, and the one JSON line they print — so both are timed and reported alike. */
#ifndef ALERTMESH_BENCH_PINGPONG_H
#define ALERTMESH_BENCH_PINGPONG_H

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

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

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts the `rounds` round-trip times and prints the JSON line bench/run reads. */
static void report(const char *transport, size_t size, long rounds, double *rtt, double total_us) {
    qsort(rtt, (size_t)rounds, sizeof(double), cmp_double);
    printf("{\"transport\": \"%s\", \"size\": %zu, \"rounds\": %ld, \"p50_us\": %.2f, \"p90_us\": %.2f, "
           "\"p99_us\": %.2f, \"rtt_per_s\": %.0f}\n",
           transport, size, rounds, rtt[rounds / 2], rtt[rounds * 9 / 10], rtt[rounds * 99 / 100],
           rounds / (total_us / 1e6));
}

#endif
