/*
 * sysprobe: makes one system call and prints what came back, for the
 * seccomp tests (x86_64 only). Freestanding: no libc, so it runs in any
 * rootfs. Built by the tests with
 *
 *     cc -static -nostdlib -ffreestanding -fno-stack-protector -O1 -o sysprobe sysprobe.c
 *
 * Usage: sysprobe [-32|-x32] NR [ARG...]
 *   -32    through `int $0x80`, the i386 ABI (AUDIT_ARCH_I386)
 *   -x32   with __X32_SYSCALL_BIT set on NR (x32 ABI)
 *   ARG    a number (decimal, or hex with 0x), or s:TEXT for a pointer to TEXT
 *
 * Prints "ok" when the call returned a non-negative value and "errno N"
 * otherwise, and exits 0. A call the filter kills kills the probe instead.
 */

typedef unsigned long u64;

static long sys64(long n, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static long sys32(long n, long a, long b, long c, long d, long e)
{
	int ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(n), "b"(a), "c"(b), "d"(c), "S"(d), "D"(e)
			 : "memory");
	return ret;
}

static unsigned long length(const char *s)
{
	unsigned long n = 0;
	while (s[n])
		n++;
	return n;
}

static void say(const char *s)
{
	sys64(1, 1, (long)s, (long)length(s), 0, 0, 0);
}

static __attribute__((noreturn)) void quit(int code)
{
	for (;;)
		sys64(231, code, 0, 0, 0, 0, 0);
}

static int prefix(const char *s, const char *p)
{
	while (*p)
		if (*s++ != *p++)
			return 0;
	return 1;
}

static long number(const char *s)
{
	u64 v = 0;
	if (prefix(s, "s:"))
		return (long)(s + 2);
	if (prefix(s, "0x")) {
		for (s += 2; *s; s++) {
			int d = *s >= 'a' ? *s - 'a' + 10 : *s >= 'A' ? *s - 'A' + 10 : *s - '0';
			v = v * 16 + (u64)d;
		}
		return (long)v;
	}
	for (; *s; s++)
		v = v * 10 + (u64)(*s - '0');
	return (long)v;
}

static void say_number(long v)
{
	char buf[24];
	int i = 23;
	buf[i] = 0;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	say(buf + i);
}

__attribute__((used)) void probe_main(long *sp)
{
	int argc = (int)sp[0];
	char **argv = (char **)(sp + 1);
	int mode = 0, i = 1;
	long a[6] = {0, 0, 0, 0, 0, 0};
	long nr, ret;

	if (i < argc && argv[i][0] == '-' && argv[i][1] == '3') {
		mode = 32;
		i++;
	} else if (i < argc && argv[i][0] == '-' && argv[i][1] == 'x') {
		mode = 'x';
		i++;
	}
	if (i >= argc) {
		say("usage: sysprobe [-32|-x32] NR [ARG...]\n");
		quit(2);
	}
	nr = number(argv[i++]);
	for (int j = 0; j < 6 && i < argc; j++)
		a[j] = number(argv[i++]);
	if (mode == 32)
		ret = sys32(nr, a[0], a[1], a[2], a[3], a[4]);
	else if (mode == 'x')
		ret = sys64(nr | 0x40000000, a[0], a[1], a[2], a[3], a[4], a[5]);
	else
		ret = sys64(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	if (ret >= 0 || ret < -4095) {
		say("ok\n");
	} else {
		say("errno ");
		say_number(-ret);
		say("\n");
	}
	quit(0);
}

__asm__(".text\n"
	".globl _start\n"
	"_start:\n"
	"	xor %rbp, %rbp\n"
	"	mov %rsp, %rdi\n"
	"	and $-16, %rsp\n"
	"	call probe_main\n"
	"	hlt\n");
