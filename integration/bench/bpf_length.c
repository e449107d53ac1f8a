/* bpf_length PID: prints the number of classic BPF instructions of each
 * seccomp filter attached to PID, newest first, one per line (none: no
 * filter). Read with PTRACE_SECCOMP_GET_FILTER, the one way to see a loaded
 * filter from outside (CAP_SYS_ADMIN, CONFIG_CHECKPOINT_RESTORE): the
 * process is seized, stopped for the read, and let go. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#ifndef PTRACE_SECCOMP_GET_FILTER
#define PTRACE_SECCOMP_GET_FILTER 0x420c
#endif

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: bpf_length PID\n");
        return 2;
    }
    pid_t pid = atoi(argv[1]);
    if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0)) {
        perror("bpf_length: seize");
        return 1;
    }
    int status, rc = 0;
    if (waitpid(pid, &status, __WALL) < 0) {
        perror("bpf_length: wait");
        return 1;
    }
    for (long index = 0;; index++) {
        long count = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, (void *)index, NULL);
        if (count < 0) {
            if (errno != ENOENT && !(errno == EINVAL && index == 0)) {
                perror("bpf_length: PTRACE_SECCOMP_GET_FILTER");
                rc = 1;
            }
            break;
        }
        printf("%ld\n", count);
    }
    ptrace(PTRACE_DETACH, pid, 0, 0);
    return rc;
}
