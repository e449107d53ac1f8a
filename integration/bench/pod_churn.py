#!/usr/bin/python3
"""Pod churn through CRI: husk against runc as containerd's runtime handlers.

    sudo /usr/bin/python3 integration/bench/pod_churn.py [--pods N] [--husk PATH] [--out FILE]

Starts the CRI suite's containerd (integration/cri/crilib.py: private
directories, its own mount namespace, handlers `runc` and `husk` on the runc
v2 shim) and runs N pods per handler, interleaved (pod i of one handler, then
pod i of the other, the first handler alternating), each a sandbox and one
container: RunPodSandbox, CreateContainer, StartContainer, then
StopPodSandbox and RemovePodSandbox.

Measured per pod:
- start: from RunPodSandbox to the return of StartContainer (wall clock);
- handler CPU: the user+system time of the runtime's invocations, read just
  before the stop from the pod's shim (cutime+cstime: the `create`,
  `start`, `state` calls it waited for) plus the pod's two container
  processes (utime+stime: the runtime's init-side set-up before exec, as the
  pause and `sleep` themselves use next to none);
- teardown: StopPodSandbox + RemovePodSandbox (wall clock).

It prints p50/p99 of each and the husk/runc ratios, and writes them between
the pod-churn markers of integration/bench/RESULTS.md (--out). Quote the
ratios: the milliseconds are this 2-core VM's.
"""
import argparse
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "integration", "cri"))
import crilib  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
DEFAULT_HUSK = os.path.join(REPO, "target", "x86_64-unknown-linux-gnu", "release", "husk")
DEFAULT_OUT = os.path.join(HERE, "RESULTS.md")


def cpu_of(pid, children):
    """utime+stime (and cutime+cstime with children) of pid, in seconds."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    # After the comm: state is fields[0]; utime is field 14 of stat, so [11].
    own = int(fields[11]) + int(fields[12])
    waited = int(fields[13]) + int(fields[14]) if children else 0
    return (own + waited) / TICK


def one_pod(env, handler, n):
    api = crilib.api
    began = time.monotonic()
    pod = crilib.new_pod(env, handler, f"churn{n}")
    cid = crilib.new_container(env, pod, "c", None, command=["sleep", "1000"])
    started = time.monotonic() - began
    shims = env.shims(pod[0])
    if len(shims) != 1:
        raise RuntimeError(f"pod {n} of {handler}: shims {shims}")
    sandbox_pid = json.loads(env.rt.PodSandboxStatus(
        api.PodSandboxStatusRequest(pod_sandbox_id=pod[0], verbose=True), timeout=60).info["info"])["pid"]
    cpu = cpu_of(shims[0], True) + cpu_of(sandbox_pid, False) + cpu_of(crilib.container_pid(env, cid), False)
    t = time.monotonic()
    crilib.remove_pod(env, pod[0])
    return started, cpu, time.monotonic() - t


def pct(values, p):
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--husk", default=DEFAULT_HUSK)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--work", default="/tmp")
    args = ap.parse_args()
    if not os.path.exists(args.husk):
        sys.exit(f"{args.husk} is missing: cargo build --release first")
    env = crilib.Env(os.path.realpath(args.husk), args.work)
    crilib.gen_stubs(os.path.join(env.t, "stubs"))
    results = {h: {"start": [], "cpu": [], "teardown": []} for h in crilib.HANDLERS}
    try:
        env.start()
        # One pod of each first, not counted: images unpacked, caches warm.
        for h in crilib.HANDLERS:
            one_pod(env, h, 0)
        for n in range(1, args.pods + 1):
            order = crilib.HANDLERS if n % 2 else list(reversed(crilib.HANDLERS))
            for h in order:
                start, cpu, teardown = one_pod(env, h, n)
                results[h]["start"].append(start)
                results[h]["cpu"].append(cpu)
                results[h]["teardown"].append(teardown)
            if n % 10 == 0:
                print(f"# {n} pods per handler", flush=True)
    finally:
        problems = env.stop()
        for p in problems:
            print(f"LEFT {p}")
    table = report(results, args)
    print(table)
    write(args.out, table)


def report(results, args):
    def ms(v):
        return f"{v * 1000:.1f}"
    rows = []
    for key, label in (("start", "pod start (RunPodSandbox → StartContainer)"),
                       ("cpu", "handler CPU per pod (runtime calls + init set-up)"),
                       ("teardown", "StopPodSandbox + RemovePodSandbox")):
        h, r = results["husk"][key], results["runc"][key]
        for p in (50, 99):
            rows.append(f"| {label}, p{p} | {ms(pct(h, p))} | {ms(pct(r, p))} | {pct(h, p) / pct(r, p):.2f} |")
        if key == "cpu":
            rows.append(f"| {label}, total | {sum(h):.2f} s | {sum(r):.2f} s | {sum(h) / sum(r):.2f} |")
    head = (f"{args.pods} pods per handler, interleaved, on {platform.node()} ({os.cpu_count()} cores, "
            f"kernel {platform.release()}), containerd {crilib.run('containerd', '--version').split()[2]}, "
            f"runc {crilib.run(crilib.RUNC, '--version').splitlines()[0].split()[-1]}, husk {os.path.relpath(args.husk, REPO)}. "
            f"CPU from /proc in {1000 // TICK} ms ticks.\n\n"
            "| measure (ms) | husk | runc | husk/runc |\n| --- | --- | --- | --- |\n")
    return head + "\n".join(rows) + "\n"


def write(path, table):
    start, end = "<!-- pod-churn:start -->", "<!-- pod-churn:end -->"
    text = open(path).read() if os.path.exists(path) else ""
    block = f"{start}\n{table}{end}"
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n## Pod churn through CRI (`integration/bench/pod_churn.py`)\n\n" + block + "\n"
    open(path, "w").write(text)


if __name__ == "__main__":
    main()
