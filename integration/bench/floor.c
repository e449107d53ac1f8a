/* floor [--cgroups] ROOTFS ARG...: the kernel's share of `run`, the floor
 * under any runtime. Exactly the steps a container of the benchmark's bundle
 * needs: one clone into new pid, mount, uts, ipc, net and cgroup namespaces,
 * the rootfs made a private bind mount, proc mounted in it, pivot_root, exec
 * ARG, and wait. With --cgroups it also makes a cgroup in every cgroup
 * hierarchy mounted under /sys/fs/cgroup (each v1 one, or the v2 one), puts
 * the child in them before it goes on, and removes them after the wait, as a
 * runtime's create and delete do. No runtime does less and stays a runtime:
 * the gap between one and this is the runtime's own work. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_HIERARCHIES 32

static char *cgroups[MAX_HIERARCHIES];
static int ncgroups;

static pid_t child_pid;

/* Fails, leaving nothing: the child killed, the cgroups removed. */
static void die(const char *what) {
    perror(what);
    if (child_pid > 0) {
        kill(child_pid, SIGKILL);
        waitpid(child_pid, NULL, 0);
    }
    for (int i = 0; i < ncgroups; i++)
        rmdir(cgroups[i]);
    _exit(125);
}

/* A new cpuset cgroup has no cpus and no memory nodes until given its
 * parent's, as every runtime does. */
static void inherit(const char *cgroup, const char *file) {
    char from[1100], to[1100], value[4096];
    snprintf(from, sizeof from, "%s/../%s", cgroup, file);
    snprintf(to, sizeof to, "%s/%s", cgroup, file);
    int fd = open(from, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return; /* not a cpuset hierarchy */
    ssize_t len = read(fd, value, sizeof value);
    close(fd);
    fd = open(to, O_WRONLY | O_CLOEXEC);
    if (len <= 0 || fd < 0 || write(fd, value, len) != len)
        die(to);
    close(fd);
}

/* Every cgroup or cgroup2 mount under /sys/fs/cgroup, once each. */
static void find_hierarchies(void) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f)
        die("mountinfo");
    char line[4096];
    while (fgets(line, sizeof line, f) && ncgroups < MAX_HIERARCHIES) {
        char point[1024], *sep = strstr(line, " - ");
        if (!sep || sscanf(line, "%*s %*s %*s %*s %1023s", point) != 1)
            continue;
        if (strncmp(point, "/sys/fs/cgroup/", 15) != 0 && strcmp(point, "/sys/fs/cgroup") != 0)
            continue;
        if (strncmp(sep + 3, "cgroup ", 7) != 0 && strncmp(sep + 3, "cgroup2 ", 8) != 0)
            continue;
        char *path;
        if (asprintf(&path, "%s/husk-floor-%d", point, getpid()) < 0)
            die("asprintf");
        cgroups[ncgroups++] = path;
    }
    fclose(f);
}

static int child(char *rootfs, char **argv, int gate) {
    char c;
    /* Waits until the parent has put it in its cgroups (and closed the gate). */
    if (read(gate, &c, 1) != 0)
        die("gate");
    close(gate);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
        die("make / private");
    if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL))
        die("bind rootfs");
    if (chdir(rootfs))
        die("chdir rootfs");
    if (mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
        die("mount proc");
    if (syscall(SYS_pivot_root, ".", "."))
        die("pivot_root");
    if (umount2(".", MNT_DETACH))
        die("umount old root");
    if (chdir("/"))
        die("chdir /");
    execvp(argv[0], argv);
    die("exec");
    return 0;
}

int main(int argc, char **argv) {
    int use_cgroups = argc > 1 && strcmp(argv[1], "--cgroups") == 0;
    argv += use_cgroups;
    argc -= use_cgroups;
    if (argc < 3) {
        fprintf(stderr, "usage: floor [--cgroups] ROOTFS ARG...\n");
        return 2;
    }
    int gate[2];
    if (pipe2(gate, O_CLOEXEC))
        die("pipe");
    if (use_cgroups) {
        find_hierarchies();
        for (int i = 0; i < ncgroups; i++) {
            if (mkdir(cgroups[i], 0755)) {
                ncgroups = i;
                die(cgroups[i]);
            }
            inherit(cgroups[i], "cpuset.cpus");
            inherit(cgroups[i], "cpuset.mems");
        }
    }
    pid_t pid = syscall(SYS_clone, CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET |
                        CLONE_NEWCGROUP | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0)
        die("clone");
    if (pid == 0) {
        ncgroups = 0; /* the parent's to remove */
        close(gate[1]);
        return child(argv[1], argv + 2, gate[0]);
    }
    child_pid = pid;
    close(gate[0]);
    char text[16];
    int len = snprintf(text, sizeof text, "%d", pid);
    for (int i = 0; i < ncgroups; i++) {
        char procs[1100];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", cgroups[i]);
        int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, text, len) != len)
            die(procs);
        close(fd);
    }
    close(gate[1]);
    int status;
    if (waitpid(pid, &status, 0) < 0)
        die("wait");
    child_pid = 0;
    for (int i = 0; i < ncgroups; i++)
        if (rmdir(cgroups[i]) && errno != ENOENT)
            die(cgroups[i]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
