/* A tiny static probe for the integration tests: make one raw system call
 * and print its outcome, so tests can check what seccomp filters and
 * cgroups let through from inside a container.
 *
 *   syscall NR [ARG...]    prints "ok RET" or "errno N"
 * Arguments are decimal or 0x-hex. The child of a fork-like call exits at
 * once. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    long a[6] = {0};
    if (argc < 2) {
        fprintf(stderr, "usage: syscall NR [ARG...]\n");
        return 2;
    }
    long nr = strtol(argv[1], NULL, 0);
    for (int i = 2; i < argc && i < 8; i++)
        a[i - 2] = (long)strtoull(argv[i], NULL, 0);
    errno = 0;
    long ret = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (ret == 0 && (nr == SYS_clone || nr == SYS_fork))
        _exit(0); /* the new child of a fork-like call */
    if (ret < 0) {
        printf("errno %d\n", errno);
        return 1;
    }
    printf("ok %ld\n", ret);
    fflush(stdout);
    return 0;
}
