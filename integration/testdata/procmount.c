/* What a process in a container could try: a user namespace of its own
 * (its uid and gid mapped), with new mount, pid and network namespaces, and
 * there a fresh procfs and sysfs. The kernel allows such a mount only if a
 * full, uncovered mount of the same filesystem is already in the mount
 * namespace: with --no-pivot, the host's /proc under the rootfs would be.
 * Prints one line per filesystem: "proc mounted" or "proc refused: ERRNO". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0)
		return -1;
	int n = write(fd, text, strlen(text));
	close(fd);
	return n < 0 ? -1 : 0;
}

static void try_mount(const char *fstype, const char *dir)
{
	mkdir(dir, 0755);
	if (mount(fstype, dir, fstype, 0, NULL) == 0)
		printf("%s mounted\n", fstype);
	else
		printf("%s refused: %s\n", fstype, strerrorname_np(errno));
}

int main(void)
{
	char map[64];
	unsigned uid = geteuid(), gid = getegid();
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET) != 0) {
		printf("unshare: %s\n", strerrorname_np(errno));
		return 1;
	}
	snprintf(map, sizeof map, "0 %u 1\n", uid);
	if (put("/proc/self/uid_map", map) != 0 || put("/proc/self/setgroups", "deny\n") != 0) {
		printf("uid_map: %s\n", strerrorname_np(errno));
		return 1;
	}
	snprintf(map, sizeof map, "0 %u 1\n", gid);
	if (put("/proc/self/gid_map", map) != 0) {
		printf("gid_map: %s\n", strerrorname_np(errno));
		return 1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		try_mount("proc", "/tmp/fresh-proc");
		try_mount("sysfs", "/tmp/fresh-sys");
		fflush(stdout);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	return 0;
}
