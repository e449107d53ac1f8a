#!/usr/bin/env python3
"""Benchmark husk against runc and crun on the same bundle, interleaved.

    sudo python3 integration/bench/bench.py [--runs N] [--sections main,seccomp] [--scale [N]] [--out FILE]

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
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# Run as root from the source tree: no __pycache__ of root's beside it.
sys.dont_write_bytecode = True
import scale  # noqa: E402
import seccomp_cost  # noqa: E402

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
        # Where each call's stderr goes (see call): one file, emptied before
        # each call, because a file made per call cost every runtime an
        # inode's creation and removal (0.2 to 0.4 ms on this ext4) inside
        # the timed call, which the floor's pipe did not pay.
        self.err = tempfile.TemporaryFile()

    def place(self):
        """Moves this process, untimed, to where the runtime's next call
        must start: procs_file's cgroup, or back home. A write to
        cgroup.procs waits for the kernel's cgroup lock (an RCU grace
        period: 2 to 15 ms on this machine), so it must not happen in the
        forked child of a timed call; nor is a preexec_fn used at all, which
        would make Python fork instead of vfork for every runtime call."""
        place_in(self.procs_file)

    def cmd(self, *args):
        return [self.bin, "--root", self.root, *args]

    def new_id(self, label):
        self.count += 1
        # Runtime-specific, because the default cgroup path is the id.
        return f"bench-{self.name}-{label}-{self.count}"

    def call(self, *args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL):
        # stderr goes to a file: after `create` the container holds the
        # runtime's stdio, and a pipe would not reach EOF while it lives.
        self.place()
        done = subprocess.run(self.cmd(*args), stdin=stdin, stdout=stdout, stderr=self.take_err())
        return self.with_err(done)

    def take_err(self):
        """The stderr file, emptied. A container of the last call may still
        hold it; its writes (none here) would land after the offset."""
        self.err.seek(0)
        self.err.truncate()
        return self.err

    def with_err(self, done):
        self.err.seek(0)
        done.stderr = self.err.read()
        return done

    def timed(self, *args):
        self.place()
        start = time.perf_counter()
        done = self.call(*args)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)}: {done.stderr.decode().strip()}")
        return elapsed


# The cgroup.procs file this process is in while it runs a runtime's calls
# (None: where it started).
_placed = [None]


def home_procs():
    """cgroup.procs of the memory cgroup (v1) or cgroup (v2) this process
    started in."""
    v2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if (v2 and controllers == "") or (not v2 and "memory" in controllers.split(",")):
                base = "/sys/fs/cgroup" if v2 else "/sys/fs/cgroup/memory"
                return os.path.join(base + path, "cgroup.procs")
    raise RuntimeError("no memory cgroup in /proc/self/cgroup")


HOME_PROCS = None


def place_in(procs_file):
    global HOME_PROCS
    if HOME_PROCS is None:
        HOME_PROCS = home_procs()
    if _placed[0] != procs_file:
        with open(procs_file or HOME_PROCS, "w") as f:
            f.write(str(os.getpid()))
        _placed[0] = procs_file


class Floor:
    """floor.c, the kernel's share of `run` for the same rootfs and program,
    measured the way a runtime's `run` + `delete` is (one process spawned
    from here, waited for)."""

    def __init__(self, name, binary, rootfs, cgroups):
        self.name = name
        self.cmd = [binary, *(["--cgroups"] if cgroups else []), rootfs]

    def lifecycle(self, args):
        start = time.perf_counter()
        done = subprocess.run([*self.cmd, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise RuntimeError(f"{self.name}: {done.stderr.decode().strip()}")
        return elapsed


FLOORS = ["floor", "floor-cgroups"]


def build_static(work, name):
    """Builds integration/bench/NAME.c as a static binary and returns its
    path: static, so that it runs inside the busybox rootfs too, and starts
    without the dynamic loader's work in what is timed."""
    out = os.path.join(work, name)
    sh("cc", "-O2", "-static", "-o", out, os.path.join(REPO, "integration", "bench", name + ".c"))
    return out


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
        place_in(None)
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

    def call(self, *args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL):
        uid, gid = self.user
        env = {"PATH": "/usr/bin:/bin", "XDG_RUNTIME_DIR": os.path.dirname(self.root), "HOME": "/"}
        done = subprocess.run(self.cmd(*args), stdin=stdin, stdout=stdout, stderr=self.take_err(),
                              user=uid, group=gid, extra_groups=[gid], env=env)
        return self.with_err(done)


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
    sections = {}
    try:
        maxrss = build_static(work, "maxrss")
        floor = build_static(work, "floor")
        run_bundle = make_bundle(work, ["true"])
        sleep_bundle = make_bundle(work, ["sleep", "1000"])
        profile = docker_seccomp_profile()
        seccomp_bundle = make_bundle(work, ["sleep", "1000"], seccomp=profile)
        rootfs = os.path.join(work, "rootfs")
        runtimes = {name: Runtime(name, os.path.join(work, "state")) for name in RUNTIMES}
        runtimes["floor"] = Floor("floor", floor, rootfs, cgroups=False)
        runtimes["floor-cgroups"] = Floor("floor-cgroups", floor, rootfs, cgroups=True)
        results = {name: {} for name in RUNTIMES + FLOORS}

        def interleave(label, fn, runs, names=RUNTIMES):
            samples = {name: [] for name in names}
            for i in range(runs):
                order = names[i % len(names):] + names[:i % len(names)]
                for name in order:
                    samples[name].append(fn(runtimes[name]))
            for name in names:
                results[name][label] = samples[name]

        def run_true(rt):
            return rt.lifecycle(["true"]) if isinstance(rt, Floor) else lifecycle_run(rt, run_bundle)

        # Warm caches (binaries, rootfs pages) before measuring.
        interleave("warmup", run_true, 3, RUNTIMES + FLOORS)
        if "main" in args.sections:
            interleave("run", run_true, args.runs, RUNTIMES + FLOORS)
            interleave("create-start-wait-delete", lambda rt: create_start_wait_delete(rt, run_bundle, work), args.runs)
            interleave("create", lambda rt: create_only(rt, sleep_bundle), args.runs)
            interleave("create-seccomp", lambda rt: create_only(rt, seccomp_bundle), args.runs)

            holders = {}
            for name in RUNTIMES:
                cid = runtimes[name].new_id("holder")
                runtimes[name].timed("run", "-d", "--bundle", sleep_bundle, cid)
                holders[name] = cid
            interleave("state", lambda rt: rt.timed("state", holders[rt.name]), args.runs)
            interleave("exec", lambda rt: rt.timed("exec", holders[rt.name], "true"), args.runs)
            interleave("peak-rss", lambda rt: peak_rss_kib(rt, sleep_bundle, maxrss), max(3, args.runs // 4))
            for name in RUNTIMES:
                runtimes[name].call("delete", "--force", holders[name])

            fifty = {}
            for name in RUNTIMES:
                fifty[name] = fifty_sleepers(runtimes[name], work)

            rootless, rootless_bundle = rootless_setup(work)
            saved = runtimes
            runtimes = rootless
            interleave("rootless-run", lambda rt: lifecycle_run(rt, rootless_bundle), args.runs)
            runtimes = saved

            phases = husk_phase_profile(runtimes["husk"], sleep_bundle, run_bundle, args.runs)
            compile_ms = seccomp_compile_ms(runtimes["husk"], seccomp_bundle, args.runs)
            sections["main"] = report(args, results, fifty, phases, compile_ms)

        if "seccomp" in args.sections:
            cost = seccomp_cost.measure(runtimes, RUNTIMES, work, rootfs, make_bundle, profile,
                                        lambda w, n: build_static(w, n), max(3, args.runs // 3))
            sections["seccomp"] = [header_line(), ""] + seccomp_cost.report(cost, RUNTIMES)

        if args.scale:
            grown = scale.measure(runtimes, RUNTIMES, args.scale, work, make_bundle, MemoryCgroup)
            if args.raw:
                with open(args.raw, "w") as f:
                    json.dump(grown, f)
            plot_path = os.path.join(os.path.dirname(os.path.abspath(args.out)), SCALE_PLOT)
            try:
                scale.plot(grown, RUNTIMES, args.scale, plot_path)
                plot_name = SCALE_PLOT
            except ImportError:
                print("bench: no matplotlib (apt-get install python3-matplotlib): the scale plot is not drawn",
                      file=sys.stderr)
                plot_name = None
            sections["scale"] = [header_line(), ""] + scale.report(grown, RUNTIMES, args.scale, plot_name)
        write_results(args, sections)
    finally:
        for rt_name in RUNTIMES:
            root = os.path.join(work, "state", rt_name)
            if os.path.isdir(root):
                for cid in os.listdir(root):
                    subprocess.run([binary(rt_name), "--root", root, "delete", "--force", cid], stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


def husk_phase_profile(rt, sleep_bundle, run_bundle, runs):
    """From `husk --debug`: for each verb, the median time since husk's main
    began at which each of its phases ended (a create, start, exec and
    delete --force of one sleeping container, each its own call, and a
    foreground run of /bin/true, whose create, start, wait and delete are
    one call); and, from create, the init's steps, timed from its clone."""
    marks = {}
    # On tmpfs: a log file made on the state root's disk per call would time
    # the file system's inode creation as husk's start-up.
    logs = tempfile.mkdtemp(prefix="husk-bench-phases-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)

    def profiled(table, *args):
        log = os.path.join(logs, f"phase-{rt.count}.log")
        subprocess.run([rt.bin, "--root", rt.root, "--debug", "--log", log, "--log-format", "json", *args],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        seen = set()
        with open(log) as f:
            for line in f:
                entry = json.loads(line)
                msg = entry.get("msg", "")
                if entry.get("level") != "debug" or ": " not in msg or " at " not in msg:
                    continue
                head, rest = msg.split(": ", 1)
                phase, at = rest.rsplit(" at ", 1)
                if not re.fullmatch(r"[0-9.]+(ns|µs|ms|s)", at):
                    continue
                verb = head.split(" ")[0]
                key = "init" if head == "init" else table
                name = f"{verb}: {phase}" if key == "run" else phase
                # A step the init takes twice (non-dumpable, then again
                # after the switch of user) is a row of its own each time.
                while (key, name) in seen:
                    name += " (again)"
                seen.add((key, name))
                marks.setdefault(key, {}).setdefault(name, []).append(parse_duration(at))
        os.unlink(log)

    for _ in range(runs):
        cid = rt.new_id("phase")
        profiled("create", "create", "--bundle", sleep_bundle, cid)
        profiled("start", "start", cid)
        profiled("exec", "exec", cid, "true")
        profiled("delete", "delete", "--force", cid)
        profiled("run", "run", "--bundle", run_bundle, rt.new_id("phase-run"))
    os.rmdir(logs)
    return {table: {phase: statistics.median(v) * 1000 for phase, v in phases.items()} for table, phases in marks.items()}


def seccomp_compile_ms(rt, bundle, runs):
    """Median time husk takes to compile the bundle's seccomp profile."""
    times = []
    for _ in range(runs):
        cid = rt.new_id("compile")
        log = os.path.join(os.path.dirname(rt.root), f"{cid}.log")
        subprocess.run([rt.bin, "--root", rt.root, "--debug", "--log", log, "--log-format", "json", "create", "--bundle", bundle, cid],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        rt.call("delete", "--force", cid)
        with open(log) as f:
            for line in f:
                msg = json.loads(line).get("msg", "")
                if msg.startswith("seccomp profile compiled in "):
                    times.append(parse_duration(msg.rsplit(" ", 1)[1]))
    return statistics.median(times) * 1000 if times else 0.0


def parse_duration(text):
    """Rust's Debug of a Duration: 1.234ms, 567.8µs, 1.2s, 12ns."""
    for unit, scale in (("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9), ("s", 1.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return 0.0


def hot_list_coverage():
    """How much of hot-symbols.txt (build.rs) the measured binary has: a
    change of the crate's metadata (Cargo.toml, Cargo.lock, the toolchain)
    renames its functions, and integration/bench/hot_symbols.py must then
    write the list again."""
    path = os.path.join(REPO, "hot-symbols.txt")
    if not os.path.exists(path) or not shutil.which("nm"):
        return "(hot-symbols.txt: not checked)"
    listed = [line.strip() for line in open(path) if line.strip()]
    nm = subprocess.run(["nm", HUSK], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    defined = {p[-1] for p in (line.split() for line in nm.splitlines()) if p}
    found = sum(name in defined for name in listed)
    stale = "" if found >= 0.9 * len(listed) else " — stale: run integration/bench/hot_symbols.py and rebuild"
    return f"Hot path linked first (build.rs): {found} of the {len(listed)} functions of hot-symbols.txt are in the binary{stale}."


def header_line():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    versions = [subprocess.run([binary(name), "--version"], stdout=subprocess.PIPE, text=True).stdout.splitlines()[0]
                for name in RUNTIMES]
    return (f"Written by `integration/bench/bench.py` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
            f"Machine: {platform.node()}, {os.cpu_count()} cpus ({cpu}), kernel {platform.release()}, "
            f"cgroups {'v2' if os.path.exists('/sys/fs/cgroup/cgroup.controllers') else 'v1/hybrid'}. "
            f"Runtimes: {'; '.join(versions)}.")


def report(args, results, fifty, phases, compile_ms):
    lines = [header_line() + "  ",
             f"Medians over {args.runs} interleaved runs each; ratio = husk ÷ crun (lower is better for husk).\n"]
    lines.append(MAIN_TABLE_HEAD)
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
    lines.append(hot_list_coverage() + "\n")

    lines.append("\n### run /bin/true against the kernel floor\n")
    lines.append("In the same interleaved measurement as row 1: `floor.c` does only the kernel's steps for the same "
                 "rootfs (one clone into new pid, mount, uts, ipc, net and cgroup namespaces, a private bind of the "
                 "rootfs, proc, pivot_root, exec, wait); *floor + cgroups* also makes a cgroup in each hierarchy, "
                 "puts the child in it and removes it after. Ratio = runtime ÷ floor.\n")
    lines.append("| | run /bin/true | ÷ floor | ÷ floor + cgroups | ÷ crun |")
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    run = {n: median_ms(results[n]["run"]) for n in RUNTIMES + FLOORS}
    for name, label in (("husk", "husk"), ("runc", "runc"), ("crun", "crun"), ("floor", "floor"),
                        ("floor-cgroups", "floor + cgroups")):
        lines.append(f"| {label} | {run[name]:.2f} ms | {run[name] / run['floor']:.2f} | "
                     f"{run[name] / run['floor-cgroups']:.2f} | {run[name] / run['crun']:.2f} |")
    paired = statistics.median(h / f for h, f in zip(results["husk"]["run"], results["floor"]["run"]))
    lines.append(f"\nhusk ÷ floor, median of the paired runs: **{paired:.2f}**.\n")

    lines.append("\n### Issue #17's targets\n")
    lines.append("Paired medians: the median over the interleaved runs of husk's time in a run ÷ the other's in the "
                 "same run.\n")
    lines.append("| target | paired median | holds |")
    lines.append("| --- | ---: | :---: |")

    def paired(key, other, base=None):
        return statistics.median(h / o for h, o in zip(results["husk"][key], results[other][base or key]))
    for label, ratio, limit in (
            ("run /bin/true ≤ 0.5 × crun", paired("run", "crun"), 0.5),
            ("run /bin/true ≤ 2 × the floor", paired("run", "floor"), 2.0),
            ("run /bin/true ≤ 2 × the floor + cgroups", paired("run", "floor-cgroups"), 2.0),
            ("create+start+wait+delete ≤ 0.5 × crun", paired("create-start-wait-delete", "crun"), 0.5),
            ("exec ≤ 0.5 × crun", paired("exec", "crun"), 0.5),
            ("state ≤ 0.5 × crun", paired("state", "crun"), 0.5),
            ("peak RSS of create ≤ 0.8 × crun", paired("peak-rss", "crun"), 0.8)):
        lines.append(f"| {label} | {ratio:.2f} | {'yes' if ratio <= limit else 'no'} |")

    lines.append(PHASE_HEAD)
    lines.append("Median over the runs of the time since husk's main began (in the process that does the work, after "
                 "its move onto a read-only view of its binary) at which each phase ended, per verb: create, start, "
                 "exec and delete --force of one sleeping container, each a call of its own; the foreground run of "
                 "/bin/true, one call from create to delete; and the init's steps in create, timed from its clone.\n")
    for table, title in (("create", "create"), ("start", "start"), ("exec", "exec true"), ("delete", "delete --force"),
                         ("run", "run /bin/true (foreground)"), ("init", "the init, during create")):
        lines.append(f"**{title}**\n")
        lines.append("| phase | ends at |")
        lines.append("| --- | ---: |")
        for phase, ms in phases.get(table, {}).items():
            lines.append(f"| {phase} | {ms:.2f} ms |")
        lines.append("")
    return lines


MAIN_TABLE_HEAD = "| measurement | husk | runc | crun | husk/crun | runc/crun |"
PHASE_HEAD = "\n## husk's phase profile (`husk --debug`)\n"
SECTIONS = ["main", "seccomp", "scale"]
SCALE_PLOT = "scale.svg"


def markers(name):
    return f"<!-- bench-{name}:start -->", f"<!-- bench-{name}:end -->"


def write_results(args, sections):
    """Replaces the sections that ran between their markers in RESULTS.md,
    keeping the others (a run of one section leaves the rest, and the pod
    churn section that pod_churn.py writes, as they were)."""
    text = open(args.out).read() if os.path.exists(args.out) else "# husk benchmark results\n\n"
    if markers("main")[0] not in text:
        # The layout before sections: all but the pod churn part is redone.
        tail = text[text.index("## Pod churn"):] if "## Pod churn" in text else ""
        text = "# husk benchmark results\n\nRerun with `sudo /usr/bin/python3 integration/bench/bench.py` after " \
               "`cargo build --release` (see the README's Benchmark section).\n\n" + tail
    for name in SECTIONS:
        start, end = markers(name)
        if start not in text:
            at = text.index("## Pod churn") if "## Pod churn" in text else len(text)
            text = text[:at] + f"{start}\n{end}\n\n" + text[at:]
        if name in sections:
            head, rest = text.split(start, 1)
            text = head + start + "\n" + "\n".join(sections[name]).strip() + "\n" + end + rest.split(end, 1)[1]
            print("\n".join(sections[name]))
    with open(args.out, "w") as f:
        f.write(text)
    # Only the default run (the release build, into RESULTS.md) speaks for
    # the README; a comparison of another binary does not.
    if args.out == DEFAULT_OUT and not args.husk:
        quote_in_readme(text, args)


def quote_in_readme(results, args):
    """Puts RESULTS.md's sections (the main one up to the phase profile)
    between README.md's bench markers."""
    readme = os.path.join(REPO, "README.md")
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    with open(readme) as f:
        text = f.read()
    if start not in text or end not in text:
        return
    parts = []
    for name in SECTIONS:
        body = results.split(markers(name)[0], 1)[1].split(markers(name)[1], 1)[0].strip()
        if name == "main" and PHASE_HEAD.strip() in body:
            body = body.split(PHASE_HEAD.strip(), 1)[0].strip()
        if name == "scale":
            body = body.replace(f"]({SCALE_PLOT})", f"](integration/bench/{SCALE_PLOT})")
        if body:
            # One level down: the block sits in the README's Benchmark section.
            parts.append("\n".join("#" + line if line.startswith("##") else line for line in body.splitlines()))
    block = f"{start}\nFrom integration/bench/RESULTS.md:\n\n" + "\n\n".join(parts) + f"\n{end}"
    head, rest = text.split(start, 1)
    with open(readme, "w") as f:
        f.write(head + block + rest.split(end, 1)[1])


def setup(args):
    """The Python the benchmark runs in: Debian's, where its packages go;
    the runtimes compared with and tini are installed if missing, and with
    --scale, python3-matplotlib for the plot."""
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    missing = [tool for tool in ("runc", "crun", "tini") if not shutil.which(tool)]
    if missing and shutil.which("apt-get"):
        print(f"bench: installing {', '.join(missing)}", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], stdout=subprocess.DEVNULL)
    if args.scale:
        has = subprocess.run([python, "-c", "import matplotlib"], stderr=subprocess.DEVNULL).returncode == 0
        if not has and shutil.which("apt-get"):
            print("bench: installing python3-matplotlib for the scale plot", file=sys.stderr)
            subprocess.run(["apt-get", "install", "-y", "-q", "python3-matplotlib"], stdout=subprocess.DEVNULL)
    return python


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--out", default=DEFAULT_OUT)
    parser.add_argument("--husk", help="another husk binary (a before/after comparison); default: the release build")
    parser.add_argument("--sections", default="main,seccomp",
                        help="comma-separated: main (the runtime table and the floor), seccomp (the filter's cost at "
                             "run time); default: both")
    parser.add_argument("--scale", type=int, nargs="?", const=1000, default=0, metavar="N",
                        help="also start N sleeping containers per runtime (default N: 1000; several minutes)")
    parser.add_argument("--raw", help="with --scale, also write every scale sample to this JSON file")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.sections = [s for s in args.sections.split(",") if s]
    unknown = set(args.sections) - {"main", "seccomp"}
    if unknown:
        sys.exit(f"bench: unknown section: {', '.join(sorted(unknown))}")
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
    python = setup(args)
    tini = shutil.which("tini") or sys.exit("bench: needs tini (apt-get install tini)")
    command = ["unshare", "--mount", "--propagation", "private", "--", tini, "-s", "--",
               python, os.path.abspath(__file__), "--inner", "--runs", str(args.runs), "--out", args.out,
               "--sections", ",".join(args.sections) or ",", "--scale", str(args.scale)]
    if args.raw:
        command += ["--raw", os.path.abspath(args.raw)]
    if args.husk:
        command += ["--husk", HUSK]
    sys.exit(subprocess.run(command).returncode)


if __name__ == "__main__":
    main()
