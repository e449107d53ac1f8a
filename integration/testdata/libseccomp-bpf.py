#!/usr/bin/python3
"""The other side of husk's seccomp differential test
(src/security/seccomp/differential.rs): libseccomp 2.5 (Debian's
python3-seccomp) compiles each OCI profile the way runc 1.1 drives it, and
the classic BPF it exports is handed back for the test to run.

    libseccomp-bpf.py names            the call tables libseccomp knows, JSON
    libseccomp-bpf.py compile < in     one OCI profile per line in, one line out

Each output line is {"bpf": hex of struct sock_filter[], "last": {arch:
highest call number the profile names there}} or {"error": "..."} when
libseccomp refuses the profile (runc would fail to create the container).
"last" is what runc's ENOSYS stub (libcontainer/seccomp/patchbpf) needs; the
stub itself is not libseccomp's, so the test applies it on top.

What follows runc's libcontainer/seccomp/seccomp_linux.go: rules whose action
is the default are skipped, unknown names are skipped, a rule naming one
argument twice becomes one rule per condition.
"""

import json
import os
import sys
import tempfile

import seccomp

ARCHES = {
    "SCMP_ARCH_NATIVE": seccomp.Arch.NATIVE,
    "SCMP_ARCH_X86_64": seccomp.Arch.X86_64,
    "SCMP_ARCH_X86": seccomp.Arch.X86,
    "SCMP_ARCH_X32": seccomp.Arch.X32,
    "SCMP_ARCH_AARCH64": seccomp.Arch.AARCH64,
}
ARCH_NAMES = {"x86_64": seccomp.Arch.X86_64, "x86": seccomp.Arch.X86, "x32": seccomp.Arch.X32}
OPS = {
    "SCMP_CMP_NE": seccomp.NE,
    "SCMP_CMP_LT": seccomp.LT,
    "SCMP_CMP_LE": seccomp.LE,
    "SCMP_CMP_EQ": seccomp.EQ,
    "SCMP_CMP_GE": seccomp.GE,
    "SCMP_CMP_GT": seccomp.GT,
    "SCMP_CMP_MASKED_EQ": seccomp.MASKED_EQ,
}
EPERM = 1


def action(name, errno):
    if name in ("SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"):
        return seccomp.KILL
    if name == "SCMP_ACT_KILL_PROCESS":
        return seccomp.KILL_PROCESS
    if name == "SCMP_ACT_TRAP":
        return seccomp.TRAP
    if name == "SCMP_ACT_ERRNO":
        return seccomp.ERRNO(EPERM if errno is None else errno)
    if name == "SCMP_ACT_TRACE":
        return seccomp.TRACE(EPERM if errno is None else errno)
    if name == "SCMP_ACT_LOG":
        return seccomp.LOG
    if name == "SCMP_ACT_ALLOW":
        return seccomp.ALLOW
    if name == "SCMP_ACT_NOTIFY":
        return seccomp.NOTIFY
    raise ValueError(f"unknown action {name}")


def signed(arch):
    """The bindings take architectures as C ints."""
    arch = int(arch)
    return arch - (1 << 32) if arch >= 1 << 31 else arch


def resolve(arch, name):
    try:
        return seccomp.resolve_syscall(arch, name)
    except (ValueError, RuntimeError):
        return -1


def compile_profile(profile):
    default = action(profile["defaultAction"], profile.get("defaultErrnoRet"))
    f = seccomp.SyscallFilter(default)
    listed = []
    for name in profile.get("architectures") or []:
        arch = ARCHES[name]
        if arch == seccomp.Arch.NATIVE:
            arch = signed(seccomp.system_arch())
        listed.append((name, arch))
        try:
            f.add_arch(arch)
        except RuntimeError as e:
            # The native one, or listed twice (EEXIST); exist_arch() itself
            # overflows on AUDIT_ARCH_X86_64 in these bindings.
            if "-17" not in str(e):
                raise
    added = set()
    for rule in profile.get("syscalls") or []:
        act = action(rule["action"], rule.get("errnoRet"))
        if act == default:
            continue
        args = rule.get("args") or []
        conds = [
            seccomp.Arg(a["index"], OPS[a["op"]], a.get("value", 0),
                        a.get("valueTwo", 0) if a["op"] == "SCMP_CMP_MASKED_EQ" else 0)
            for a in args
        ]
        indexes = [a["index"] for a in args]
        split = len(set(indexes)) != len(indexes)
        keys = [json.dumps(a, sort_keys=True) for a in args]
        alternatives = [([c], [k]) for c, k in zip(conds, keys)] if split else [(conds, keys)]
        for name in rule["names"]:
            if resolve(seccomp.Arch.NATIVE, name) == -1:
                continue
            for alt, key in alternatives:
                # libseccomp 2.5.4 emits a broken program (the call number
                # is never loaded: the arch is compared with call numbers)
                # when one rule is added twice, as runc does for a name
                # listed twice; the test compares with what was meant.
                key = (act, name, tuple(key))
                if key not in added:
                    added.add(key)
                    f.add_rule(act, name, *alt)
    # runc's findLastSyscalls: per listed architecture, the highest real
    # (non-negative) number of any name in the profile, whatever its action.
    last = {}
    for label, arch in listed:
        for rule in profile.get("syscalls") or []:
            for name in rule["names"]:
                nr = resolve(arch, name)
                if nr >= 0:
                    key = {signed(v): k for k, v in ARCH_NAMES.items()}.get(signed(arch), label)
                    last[key] = max(last.get(key, -1), nr)
    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return {"bpf": out.read().hex(), "last": last}


def main():
    if sys.argv[1:] == ["names"]:
        tables = {}
        for label, arch in ARCH_NAMES.items():
            base = 0x40000000 if label == "x32" else 0
            table = {}
            for nr in range(base, base + 1024):
                try:
                    name = seccomp.resolve_syscall(arch, nr)
                except (ValueError, RuntimeError):
                    continue
                if name:
                    table[name.decode() if isinstance(name, bytes) else name] = nr
            tables[label] = table
        json.dump(tables, sys.stdout)
        return
    assert sys.argv[1:] == ["compile"], "usage: libseccomp-bpf.py names|compile"
    for line in sys.stdin:
        try:
            result = compile_profile(json.loads(line))
        except (OSError, RuntimeError, ValueError) as e:
            result = {"error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
