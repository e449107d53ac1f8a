#!/usr/bin/env python3
"""Benchmark husk against runc and crun on the same bundle, interleaved.

    sudo python3 integration/bench/bench.py [--runs N] [--out FILE]

It re-executes itself inside a private mount namespace (where an empty file
hides the hybrid host's cgroup2 controllers from Debian's crun 1.8, which
otherwise refuses to run) under `tini -s`, a subreaper that reaps detached
containers the way a shim would. Every runtime gets the same treatment.

It prints, and writes to integration/bench/RESULTS.md, the median of each
measurement and its ratio to crun. Times are wall-clock medians over runs
interleaved across runtimes, so machine noise hits all three alike; quote
the ratios, not the milliseconds.
"""

import argparse
import faulthandler
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# .cargo/config.toml names the build target, so the binary is under it.
HUSK = os.path.join(REPO, "target", "x86_64-unknown-linux-gnu", "release", "husk")
CONTROLLERS = "/sys/fs/cgroup/unified/cgroup.controllers"
RUNTIMES = ["husk", "runc", "crun"]
DEFAULT_OUT = os.path.join(REPO, "integration", "bench", "RESULTS.md")


def binary(runtime):
    return HUSK if runtime == "husk" else shutil.which(runtime)


def sh(*args, **kw):
    return subprocess.run(list(args), check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


def make_bundle(root, args, seccomp=None, cgroups_path=None, name=None):
    name = name or "-".join(a.strip("/").replace("/", "_") for a in args[:1]) + ("-seccomp" if seccomp else "")
    bundle = os.path.join(root, "bundle-" + name)
    os.makedirs(bundle)
    rootfs = os.path.join(root, "rootfs")
    if not os.path.exists(rootfs):
        sh(os.path.join(REPO, "oci-bundles", "rootfs-busybox.sh"), rootfs)
    sh(HUSK, "spec", "--bundle", bundle)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        config = json.load(f)
    # Debian's crun 1.8 rejects spec versions it does not know.
    config["ociVersion"] = "1.0.2-dev"
    config["root"]["path"] = rootfs
    config["process"]["terminal"] = False
    config["process"]["args"] = args
    if seccomp:
        config["linux"]["seccomp"] = seccomp
    if cgroups_path:
        config["linux"]["cgroupsPath"] = cgroups_path
    with open(path, "w") as f:
        json.dump(config, f)
    return bundle


class Runtime:
    def __init__(self, name, state_root):
        self.name = name
        self.bin = binary(name)
        self.root = os.path.join(state_root, name)
        self.count = 0
        # While set, every call of the runtime starts in this cgroup (its
        # cgroup.procs file), so that what it allocates is charged there.
        self.procs_file = None

    def cmd(self, *args):
        return [self.bin, "--root", self.root, *args]

    def new_id(self, label):
        self.count += 1
        # Runtime-specific, because the default cgroup path is the id.
        return f"bench-{self.name}-{label}-{self.count}"

    def call(self, *args, stdin=subprocess.DEVNULL):
        # stderr goes to a file: after `create` the container holds the
        # runtime's stdio, and a pipe would not reach EOF while it lives.
        def enter_cgroup():
            if self.procs_file:
                with open(self.procs_file, "w") as f:
                    f.write(str(os.getpid()))
        with tempfile.TemporaryFile() as err:
            done = subprocess.run(self.cmd(*args), stdin=stdin, stdout=subprocess.DEVNULL, stderr=err,
                                  preexec_fn=enter_cgroup)
            err.seek(0)
            done.stderr = err.read()
        return done

    def timed(self, *args):
        start = time.perf_counter()
        done = self.call(*args)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {done.stderr.decode().strip()}")
        return elapsed


def docker_seccomp_profile():
    """Docker's default profile as Docker hands it to a runtime on amd64 with
    its default capabilities (the conversion integration/seccomp.rs makes)."""
    with open(os.path.join(REPO, "integration", "testdata", "docker-default-seccomp.json")) as f:
        moby = json.load(f)
    caps = {"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
            "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}
    arches = []
    for entry in moby["archMap"]:
        if entry["architecture"] == "SCMP_ARCH_X86_64":
            arches = [entry["architecture"], *entry.get("subArchitectures", [])]
    rules = []
    for rule in moby["syscalls"]:
        inc, exc = rule.get("includes", {}), rule.get("excludes", {})
        if inc.get("arches") and "amd64" not in inc["arches"]:
            continue
        if "amd64" in exc.get("arches", []) or "minKernel" in exc:
            continue
        if not all(c in caps for c in inc.get("caps", [])) or any(c in caps for c in exc.get("caps", [])):
            continue
        rules.append({k: v for k, v in rule.items() if k not in ("comment", "includes", "excludes")})
    return {"defaultAction": moby["defaultAction"], "defaultErrnoRet": moby.get("defaultErrnoRet", 1),
            "architectures": arches, "syscalls": rules}


def wait_gone(pid, timeout=10.0):
    """Waits until a (non-child) process has exited; tini reaps it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.0005)
    raise RuntimeError(f"pid {pid} did not exit")


def lifecycle_run(rt, bundle):
    cid = rt.new_id("run")
    start = time.perf_counter()
    done = rt.call("run", "--bundle", bundle, cid)
    rt.call("delete", cid)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{rt.name} run: {done.stderr.decode().strip()}")
    return elapsed


def create_start_wait_delete(rt, bundle, pid_dir):
    cid = rt.new_id("csd")
    pid_file = os.path.join(pid_dir, f"{rt.name}-{cid}.pid")
    start = time.perf_counter()
    rt.timed("create", "--bundle", bundle, "--pid-file", pid_file, cid)
    with open(pid_file) as f:
        pid = int(f.read())
    rt.timed("start", cid)
    wait_gone(pid)
    rt.timed("delete", cid)
    return time.perf_counter() - start


def create_only(rt, bundle):
    """Times create alone, then cleans up untimed."""
    cid = rt.new_id("create")
    elapsed = rt.timed("create", "--bundle", bundle, cid)
    rt.call("delete", "--force", cid)
    return elapsed


def peak_rss_kib(rt, bundle, maxrss):
    """Peak RSS of the runtime process during create, measured by the tiny
    static maxrss.c: a child of this Python process would inherit Python's
    high-water mark across exec, and every runtime would show that."""
    cid = rt.new_id("rss")
    with tempfile.TemporaryFile() as err:
        done = subprocess.run([maxrss, *rt.cmd("create", "--bundle", bundle, cid)],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        err.seek(0)
        report = err.read().decode().strip().splitlines()
    rt.call("delete", "--force", cid)
    if done.returncode != 0 or not report:
        raise RuntimeError(f"{rt.name} create failed: {report}")
    return int(report[-1])


class MemoryCgroup:
    """A memory cgroup of the benchmark's own, holding the runtime's calls
    and, as its children, the containers' cgroups: what stays charged to it
    is the memory that the containers and their runtime left in use, kernel
    objects (namespaces, mounts, cgroups, page tables) included, measured
    without the noise of the rest of the machine."""

    def __init__(self, name):
        v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        self.rel = name
        self.path = os.path.join("/sys/fs/cgroup" if v2 else "/sys/fs/cgroup/memory", name)
        self.usage_file = os.path.join(self.path, "memory.current" if v2 else "memory.usage_in_bytes")
        os.makedirs(self.path)
        self.procs = os.path.join(self.path, "cgroup.procs")

    def usage_kib(self):
        with open(self.usage_file) as f:
            return int(f.read()) / 1024

    def remove(self):
        """Removes it (and the container cgroups' parents the runtimes made
        in every other hierarchy)."""
        for hierarchy in [os.path.dirname(self.path)] + [os.path.join("/sys/fs/cgroup", d) for d in os.listdir("/sys/fs/cgroup")]:
            path = os.path.join(hierarchy, self.rel)
            if os.path.isdir(path):
                for child in os.listdir(path):
                    if os.path.isdir(os.path.join(path, child)):
                        try:
                            os.rmdir(os.path.join(path, child))
                        except OSError:
                            pass
                try:
                    os.rmdir(path)
                except OSError:
                    pass


def fifty_sleepers(rt, work, count=50):
    """Starts `count` sleeping containers one after another, then deletes
    them. Returns (total seconds, KiB per container beyond the sleeping
    processes' own memory, KiB per container in all, the sleeper's own KiB).

    Memory is what stays charged to a memory cgroup that every runtime call
    starts in and under which every container's cgroup lies: each container
    gets a bundle whose cgroupsPath is in it."""
    memcg = MemoryCgroup(f"husk-bench-{os.getpid()}-{rt.name}")
    try:
        ids = [rt.new_id("sleep") for _ in range(count)]
        bundles = [make_bundle(work, ["sleep", "1000"], cgroups_path=f"/{memcg.rel}/{cid}", name=cid) for cid in ids]
        rt.procs_file = memcg.procs
        before = memcg.usage_kib()
        start = time.perf_counter()
        for cid, bundle in zip(ids, bundles):
            rt.timed("run", "-d", "--bundle", bundle, cid)
        started = time.perf_counter()
        after = memcg.usage_kib()
        own = 0
        for cid in ids:
            out = subprocess.run(rt.cmd("state", cid), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            try:
                pid = json.loads(out.stdout)["pid"]
                # The sleepers' own memory: anonymous pages and page tables
                # (their file pages are the shared, cached busybox binary).
                with open(f"/proc/{pid}/status") as f:
                    fields = dict(l.split(":", 1) for l in f)
                own += int(fields["RssAnon"].split()[0]) + int(fields["VmPTE"].split()[0])
            except (ValueError, KeyError, StopIteration, FileNotFoundError):
                pass
        delete_start = time.perf_counter()
        for cid in ids:
            rt.timed("delete", "--force", cid)
        total = (started - start) + (time.perf_counter() - delete_start)
        return total, (after - before - own) / count, (after - before) / count, own / count
    finally:
        rt.procs_file = None
        memcg.remove()


class RootlessRuntime(Runtime):
    """A runtime run as the unprivileged test user (integration/engines/
    rootless-user.sh), from a bundle `husk spec --rootless` wrote, with its
    state in the user's own directory. The switch to the user happens in the
    forked child before exec (no setpriv in between, whose exec would add
    the same constant to every runtime and shrink the ratios)."""

    def __init__(self, name, state_root, user):
        super().__init__(name, state_root)
        self.user = user

    def call(self, *args, stdin=subprocess.DEVNULL):
        uid, gid = self.user

        def become_user():
            os.setgroups([gid])
            os.setgid(gid)
            os.setuid(uid)
        env = {"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": os.path.dirname(self.root), "HOME": "/"}
        with tempfile.TemporaryFile() as err:
            done = subprocess.run(self.cmd(*args), stdin=stdin, stdout=subprocess.DEVNULL, stderr=err,
                                  preexec_fn=become_user, env=env)
            err.seek(0)
            done.stderr = err.read()
        return done


def rootless_setup(work):
    """The test user, a rootless bundle it owns, and its runtimes."""
    out = sh(os.path.join(REPO, "integration", "engines", "rootless-user.sh")).stdout.decode().split()
    uid, gid = int(out[1]), int(out[2])
    home = os.path.join(work, "rootless")
    os.makedirs(os.path.join(home, "xdg"))
    bundle = os.path.join(home, "bundle")
    os.makedirs(bundle)
    shutil.copytree(os.path.join(work, "rootfs"), os.path.join(bundle, "rootfs"), symlinks=True)
    sh(HUSK, "spec", "--rootless", "--bundle", bundle)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        config = json.load(f)
    config["ociVersion"] = "1.0.2-dev"
    config["process"]["terminal"] = False
    config["process"]["args"] = ["true"]
    # The user's own ids, as `spec --rootless` run by that user writes them.
    for key, own in (("uidMappings", uid), ("gidMappings", gid)):
        config["linux"][key] = [{"containerID": 0, "hostID": own, "size": 1}]
    with open(path, "w") as f:
        json.dump(config, f)
    sh("chown", "-R", f"{uid}:{gid}", home)
    os.chmod(work, 0o755)
    os.chmod(os.path.join(home, "xdg"), 0o700)
    runtimes = {name: RootlessRuntime(name, os.path.join(home, "xdg", name), (uid, gid)) for name in RUNTIMES}
    return runtimes, bundle


def median_ms(values):
    return statistics.median(values) * 1000


def inner(args):
    missing = [r for r in RUNTIMES if not binary(r)]
    if missing:
        sys.exit(f"bench: not installed: {', '.join(missing)}")
    work = tempfile.mkdtemp(prefix="husk-bench-")
    try:
        maxrss = os.path.join(work, "maxrss")
        sh("cc", "-O2", "-static", "-o", maxrss, os.path.join(REPO, "integration", "bench", "maxrss.c"))
        run_bundle = make_bundle(work, ["true"])
        sleep_bundle = make_bundle(work, ["sleep", "1000"])
        seccomp_bundle = make_bundle(work, ["sleep", "1000"], seccomp=docker_seccomp_profile())
        runtimes = {name: Runtime(name, os.path.join(work, "state")) for name in RUNTIMES}
        results = {name: {} for name in RUNTIMES}

        def interleave(label, fn, runs):
            samples = {name: [] for name in RUNTIMES}
            for i in range(runs):
                order = RUNTIMES[i % 3:] + RUNTIMES[:i % 3]
                for name in order:
                    samples[name].append(fn(runtimes[name]))
            for name in RUNTIMES:
                results[name][label] = samples[name]

        # Warm caches (binaries, rootfs pages) before measuring.
        interleave("warmup", lambda rt: lifecycle_run(rt, run_bundle), 3)
        interleave("run", lambda rt: lifecycle_run(rt, run_bundle), args.runs)
        interleave("create-start-wait-delete", lambda rt: create_start_wait_delete(rt, run_bundle, work), args.runs)
        interleave("create", lambda rt: create_only(rt, sleep_bundle), args.runs)
        interleave("create-seccomp", lambda rt: create_only(rt, seccomp_bundle), args.runs)

        holders = {}
        for name, rt in runtimes.items():
            cid = rt.new_id("holder")
            rt.timed("run", "-d", "--bundle", sleep_bundle, cid)
            holders[name] = cid
        interleave("state", lambda rt: rt.timed("state", holders[rt.name]), args.runs)
        interleave("exec", lambda rt: rt.timed("exec", holders[rt.name], "true"), args.runs)
        interleave("peak-rss", lambda rt: peak_rss_kib(rt, sleep_bundle, maxrss), max(3, args.runs // 4))
        for name, rt in runtimes.items():
            rt.call("delete", "--force", holders[name])

        fifty = {}
        for name in RUNTIMES:
            fifty[name] = fifty_sleepers(runtimes[name], work)

        rootless, rootless_bundle = rootless_setup(work)
        saved = runtimes
        runtimes = rootless
        interleave("rootless-run", lambda rt: lifecycle_run(rt, rootless_bundle), args.runs)
        runtimes = saved

        phases = husk_phase_profile(runtimes["husk"], sleep_bundle, args.runs)
        compile_ms = husk_phase_profile(runtimes["husk"], seccomp_bundle, args.runs).get("seccomp compile", 0.0)
        report(args, results, fifty, phases, compile_ms)
    finally:
        for rt_name in RUNTIMES:
            root = os.path.join(work, "state", rt_name)
            if os.path.isdir(root):
                for cid in os.listdir(root):
                    subprocess.run([binary(rt_name), "--root", root, "delete", "--force", cid], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


def husk_phase_profile(rt, bundle, runs):
    """Median time at which each `create` phase ends, from `husk --debug`."""
    marks = {}
    for _ in range(runs):
        cid = rt.new_id("phase")
        log = os.path.join(os.path.dirname(rt.root), f"{cid}.log")
        subprocess.run([rt.bin, "--root", rt.root, "--debug", "--log", log, "--log-format", "json", "create", "--bundle", bundle, cid],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        rt.call("delete", "--force", cid)
        with open(log) as f:
            for line in f:
                entry = json.loads(line)
                msg = entry.get("msg", "")
                if entry.get("level") == "debug" and " at " in msg and msg.startswith("create "):
                    phase, at = msg.split(": ", 1)[1].rsplit(" at ", 1)
                    marks.setdefault(phase, []).append(parse_duration(at))
                elif msg.startswith("seccomp profile compiled in "):
                    marks.setdefault("seccomp compile", []).append(parse_duration(msg.rsplit(" ", 1)[1]))
    return {phase: statistics.median(values) * 1000 for phase, values in marks.items()}


def parse_duration(text):
    """Rust's Debug of a Duration: 1.234ms, 567.8µs, 1.2s, 12ns."""
    for unit, scale in (("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9), ("s", 1.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return 0.0


def report(args, results, fifty, phases, compile_ms):
    lines = []
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    versions = {name: subprocess.run([binary(name), "--version"], stdout=subprocess.PIPE, text=True).stdout.splitlines()[0] for name in RUNTIMES}
    lines.append("# husk benchmark results\n")
    lines.append(f"Written by `integration/bench/bench.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; rerun with "
                 "`sudo python3 integration/bench/bench.py` after `cargo build --release`.\n")
    lines.append(f"Machine: {platform.node()}, {os.cpu_count()} cpus ({cpu}), kernel {platform.release()}, "
                 f"cgroups {'v2' if os.path.exists('/sys/fs/cgroup/cgroup.controllers') else 'v1/hybrid'}.  ")
    lines.append(f"Runtimes: {versions['husk']}; {versions['runc']}; {versions['crun']}.  ")
    lines.append(f"Medians over {args.runs} interleaved runs each; ratio = husk ÷ crun (lower is better for husk).\n")
    lines.append("| measurement | husk | runc | crun | husk/crun | runc/crun |")
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")

    def row(label, values, unit, fmt="{:.2f}"):
        h, r, c = (values[n] for n in RUNTIMES)
        lines.append(f"| {label} | {fmt.format(h)} {unit} | {fmt.format(r)} {unit} | {fmt.format(c)} {unit} | {h / c:.2f} | {r / c:.2f} |")

    for key, label in (("run", "1. run /bin/true + delete"), ("create-start-wait-delete", "2. create, start, wait, delete"),
                       ("create", "create alone"), ("state", "4. state")):
        row(label, {n: median_ms(results[n][key]) for n in RUNTIMES}, "ms")
    row("3. exec /bin/true", {n: median_ms(results[n]["exec"]) for n in RUNTIMES}, "ms")
    row("5. 50 sleeping containers, total", {n: fifty[n][0] * 1000 for n in RUNTIMES}, "ms", "{:.0f}")
    row("5. host memory per container", {n: max(fifty[n][1], 1) for n in RUNTIMES}, "KiB", "{:.0f}")
    memory_notes = "; ".join(f"{n}: {fifty[n][2]:.0f} KiB in all, {fifty[n][3]:.0f} KiB the sleeper's own" for n in RUNTIMES)
    memory_row_note = f"\n(5. memory per container, as charged to a memory cgroup holding the runtime's calls and the " \
                      f"containers' cgroups: {memory_notes}. None of the three keeps a process of its own beside the container.)\n"
    row("6. peak RSS of create", {n: statistics.median(results[n]["peak-rss"]) for n in RUNTIMES}, "KiB", "{:.0f}")
    row("7. create with Docker's seccomp profile", {n: median_ms(results[n]["create-seccomp"]) for n in RUNTIMES}, "ms")
    row("8. rootless run /bin/true + delete (as a user)", {n: median_ms(results[n]["rootless-run"]) for n in RUNTIMES}, "ms")
    plain, filtered = median_ms(results["husk"]["create"]), median_ms(results["husk"]["create-seccomp"])
    lines.append(f"\nhusk create with Docker's seccomp profile ÷ without: **{filtered / plain:.2f}** "
                 f"(compiling the profile: median {compile_ms:.3f} ms).")
    lines.append(memory_row_note)
    lines.append("\n## husk create, phase profile (`husk --debug`)\n")
    lines.append("Median time since the start of `create` at which each phase ended:\n")
    lines.append("| phase | ends at |")
    lines.append("| --- | ---: |")
    for phase, ms in phases.items():
        lines.append(f"| {phase} | {ms:.2f} ms |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(args.out, "w") as f:
        f.write(text)
    # Only the default run (the release build, into RESULTS.md) speaks for
    # the README; a comparison of another binary does not.
    if args.out == DEFAULT_OUT and not args.husk:
        quote_in_readme(lines[lines.index("| measurement | husk | runc | crun | husk/crun | runc/crun |"):], args)


def quote_in_readme(table_and_rest, args):
    """Puts the results table (up to the phase profile) between README.md's
    bench markers, with where it came from."""
    readme = os.path.join(REPO, "README.md")
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    with open(readme) as f:
        text = f.read()
    if start not in text or end not in text or args.out != DEFAULT_OUT:
        return
    quoted = table_and_rest[:table_and_rest.index("\n## husk create, phase profile (`husk --debug`)\n")]
    when = time.strftime("%Y-%m-%d", time.gmtime())
    block = f"{start}\nLatest run ({when}, {args.runs} interleaved runs, this 2-core VM; from RESULTS.md):\n\n" + \
            "\n".join(quoted).strip() + f"\n{end}"
    head, rest = text.split(start, 1)
    with open(readme, "w") as f:
        f.write(head + block + rest.split(end, 1)[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--husk", help="another husk binary (a before/after comparison); default: the release build")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global HUSK
    if args.husk:
        HUSK = os.path.abspath(args.husk)
    if os.geteuid() != 0:
        sys.exit("bench: run as root")
    if not os.path.exists(HUSK):
        sys.exit("bench: build husk first: cargo build --release")
    if args.inner:
        faulthandler.dump_traceback_later(int(os.environ.get("BENCH_DUMP_AFTER", "0")) or 10**6, exit=True)
        if os.path.exists(CONTROLLERS):
            empty = tempfile.NamedTemporaryFile(prefix="husk-bench-controllers-")
            # Readable by the rootless row's user too.
            os.chmod(empty.name, 0o644)
            subprocess.run(["mount", "--bind", empty.name, CONTROLLERS], check=True)
        inner(args)
        return
    tini = shutil.which("tini") or sys.exit("bench: needs tini (apt-get install tini)")
    command = ["unshare", "--mount", "--propagation", "private", "--", tini, "-s", "--",
               sys.executable, os.path.abspath(__file__), "--inner", "--runs", str(args.runs), "--out", args.out]
    if args.husk:
        command += ["--husk", HUSK]
    sys.exit(subprocess.run(command).returncode)


if __name__ == "__main__":
    main()
