"""The seccomp filter's cost at run time, for bench.py.

A static probe (seccomp_probe.c) inside the container times a few system
calls in a tight loop: the first and the last of Docker's default profile's
allow list, one allowed only by an argument rule, and one the profile denies
(its default action, errno). It runs without a filter and under each
runtime's filter for Docker's profile, interleaved; the overhead is the
filtered time minus the unfiltered one (the same kernel and probe for all).
The length of each runtime's loaded program is read from a sleeping
container with bpf_length.c (PTRACE_SECCOMP_GET_FILTER)."""

import json
import os
import shutil
import subprocess
import tempfile

PROBE_ITERATIONS = "50000"
# Differences this small are below what the machine's noise lets a median of
# a few runs tell apart.
TIE_NS = 5


def run_probe(rt, bundle):
    """{call: ns} from one foreground run of the probe."""
    with tempfile.TemporaryFile() as out:
        done = rt.call("run", "--bundle", bundle, rt.new_id("probe"), stdout=out)
        out.seek(0)
        text = out.read().decode()
    if done.returncode != 0:
        raise RuntimeError(f"{rt.name} seccomp probe: {done.stderr.decode().strip()}")
    return {name: float(ns) for name, ns in (line.rsplit("\t", 1) for line in text.splitlines() if "\t" in line)}


def filter_lengths(rt, bundle, bpf_length):
    """Instructions of each filter loaded in a container of `bundle`."""
    cid = rt.new_id("bpflen")
    try:
        done = rt.call("run", "-d", "--bundle", bundle, cid)
        if done.returncode != 0:
            raise RuntimeError(f"{rt.name} run -d: {done.stderr.decode().strip()}")
        state = subprocess.run(rt.cmd("state", cid), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
        pid = json.loads(state.stdout)["pid"]
        out = subprocess.run([bpf_length, str(pid)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if out.returncode != 0:
            return None
        return [int(n) for n in out.stdout.split()]
    finally:
        rt.call("delete", "--force", cid)


def measure(runtimes, names, work, rootfs, make_bundle, profile, build_static, runs):
    probe = build_static(work, "seccomp_probe")
    bpf_length = build_static(work, "bpf_length")
    shutil.copy(probe, os.path.join(rootfs, "seccomp_probe"))
    plain = make_bundle(work, ["/seccomp_probe", PROBE_ITERATIONS], name="probe-plain")
    docker = make_bundle(work, ["/seccomp_probe", PROBE_ITERATIONS], seccomp=profile, name="probe-docker")
    sleeper = make_bundle(work, ["sleep", "1000"], seccomp=profile, name="probe-sleeper")
    samples = {(n, f): [] for n in names for f in ("none", "docker")}
    for i in range(runs):
        order = names[i % len(names):] + names[:i % len(names)]
        for name in order:
            for kind, bundle in (("none", plain), ("docker", docker)) if i % 2 else (("docker", docker), ("none", plain)):
                samples[(name, kind)].append(run_probe(runtimes[name], bundle))
    lengths = {name: filter_lengths(runtimes[name], sleeper, bpf_length) for name in names}
    calls = list(samples[(names[0], "none")][0])

    # The fastest run, as the probe keeps the fastest round: the machine's
    # noise (another process on the core, an interrupt) only ever adds, and
    # on a busy machine it moves medians by more than the differences
    # between the filters.
    def best(name, kind, call):
        return min(s[call] for s in samples[(name, kind)])
    table = {}
    for call in calls:
        none = min(s[call] for n in names for s in samples[(n, "none")])
        table[call] = {"none": none, **{n: best(n, "docker", call) for n in names}}
    return {"table": table, "lengths": lengths, "runs": runs}


def report(result, names):
    lines = ["## The seccomp filter's cost at run time\n",
             f"A static probe in the container (`seccomp_probe.c`) times one system call in a loop ({PROBE_ITERATIONS} "
             "calls, the fastest of 20 rounds), without a filter and under each runtime's filter for Docker's default profile; "
             f"the fastest of {result['runs']} interleaved runs. ns per call; overhead = filtered − unfiltered. runc and "
             "crun compile the profile with libseccomp (2.5 here; its binary-tree layout is opt-in, "
             "SCMP_FLTATR_CTL_OPTIMIZE 2), husk with its own compiler.\n"]
    head = "| call | no filter | " + " | ".join(names) + " | " + " | ".join(f"{n} overhead" for n in names) + " |"
    lines.append(head)
    lines.append("| --- | ---: |" + " ---: |" * (2 * len(names)))
    for call, row in result["table"].items():
        cells = [f"{row['none']:.0f} ns"] + [f"{row[n]:.0f} ns" for n in names] + \
                [f"{row[n] - row['none']:+.0f} ns" for n in names]
        lines.append(f"| {call} | " + " | ".join(cells) + " |")

    def length(n):
        value = result["lengths"].get(n)
        if value is None:
            return "n/a"
        return " + ".join(str(v) for v in value) if value else "no filter"
    lines.append("| loaded program (BPF instructions) | — | " + " | ".join(length(n) for n in names) + " |" +
                 " — |" * len(names))
    verdicts = []
    for call, row in result["table"].items():
        husk = row["husk"] - row["none"]
        others = {n: row[n] - row["none"] for n in names if n != "husk"}
        verdicts.append(f"{call.split(' ')[0]}: {'yes' if all(husk <= o + TIE_NS for o in others.values()) else 'no'}")
    lines.append(f"\nhusk's overhead at or below libseccomp's (runc's and crun's; within {TIE_NS} ns counts as at) — " +
                 "; ".join(verdicts) + ".")
    lines.append("\nThe kernel skips a filter for a call that the filter allows whatever its arguments (its per-call "
                 "action cache, built when the filter is loaded), so only calls with argument rules and denied calls "
                 "run the program; those rows show its shape.\n")
    return lines
