/* Per-syscall cost: `syscall_loop NR N [ARG0]` makes N raw calls of NR and
 * prints the mean nanoseconds per call (run inside a container, with and
 * without a seccomp filter). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    long nr = strtol(argv[1], NULL, 0), n = strtol(argv[2], NULL, 0);
    long arg = argc > 3 ? (long)strtoull(argv[3], NULL, 0) : 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++)
        syscall(nr, arg, 0, 0, 0, 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    printf("%.1f\n", ns / n);
    return 0;
}
