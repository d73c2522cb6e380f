/* speed: the time of a fixed loop of 300 million additions, the median of three tries, in seconds.
 * bench/run prints it next to each section: this VM's speed changes from one hour to the next
 * (other tenants), and a section's figures only compare with runs at a similar speed. It times one
 * core's arithmetic only: a spell that slows memory or the other core can pass it unseen. */
#include <stdio.h>
#include <time.h>

static double once(void) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 300000000UL; i++) x += i;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

int main(void) {
    double t[3];
    for (int i = 0; i < 3; i++) t[i] = once();
    /* the median of three */
    double lo = t[0] < t[1] ? t[0] : t[1], hi = t[0] < t[1] ? t[1] : t[0];
    double med = t[2] < lo ? lo : (t[2] > hi ? hi : t[2]);
    printf("%.2f\n", med);
    return 0;
}
