"""Scale, for bench.py: N sleeping containers started one after another per
runtime, then stopped and deleted. Create latency against the number of
containers that exist already, `state` and `list` time at a few sizes,
memory charged per container and the time to delete them all; a plot of
create latency per runtime (matplotlib, Debian's python3-matplotlib)."""

import json
import os
import shutil
import statistics
import time


def checkpoints(n):
    return sorted({k for k in (1, 100, 500, 1000, n) if k <= n})


class Grower:
    """One runtime's share: its bundles, its memory cgroup, its containers."""

    def __init__(self, rt, n, work, make_bundle, memory_cgroup):
        self.rt = rt
        self.memcg = memory_cgroup(f"husk-bench-scale-{os.getpid()}-{rt.name}")
        self.dir = os.path.join(work, f"scale-{rt.name}")
        os.makedirs(self.dir)
        self.ids = [rt.new_id("scale") for _ in range(n)]
        # One `spec` for all; each bundle differs by its cgroupsPath only.
        template = make_bundle(self.dir, ["sleep", "100000"], name="template")
        with open(os.path.join(template, "config.json")) as f:
            config = json.load(f)
        self.paths = []
        for cid in self.ids:
            path = os.path.join(self.dir, cid)
            os.makedirs(path)
            config["linux"]["cgroupsPath"] = f"/{self.memcg.rel}/{cid}"
            with open(os.path.join(path, "config.json"), "w") as f:
                json.dump(config, f)
            self.paths.append(path)
        self.result = {"create": [], "start": [], "state": {}, "list": {}, "started_s": 0.0, "delete_s": 0.0}
        self.before = self.memcg.usage_kib()

    def grow(self, k):
        """Creates and starts container k (1-based)."""
        rt, result = self.rt, self.result
        rt.procs_file = self.memcg.procs
        try:
            began = time.perf_counter()
            result["create"].append(rt.timed("create", "--bundle", self.paths[k - 1], self.ids[k - 1]))
            result["start"].append(rt.timed("start", self.ids[k - 1]))
            result["started_s"] += time.perf_counter() - began
        finally:
            rt.procs_file = None

    def probe(self, k):
        """`state` of the first container and `list`, with k running."""
        self.result["state"][k] = statistics.median(self.rt.timed("state", self.ids[0]) for _ in range(5))
        self.result["list"][k] = statistics.median(self.rt.timed("list") for _ in range(3))

    def charged(self):
        self.result["memory_kib"] = (self.memcg.usage_kib() - self.before) / len(self.ids)

    def shrink(self, k):
        began = time.perf_counter()
        self.rt.timed("delete", "--force", self.ids[k - 1])
        self.result["delete_s"] += time.perf_counter() - began

    def clean(self):
        for cid in self.ids:
            self.rt.call("delete", "--force", cid)
        self.memcg.remove()
        shutil.rmtree(self.dir, ignore_errors=True)


def measure(runtimes, names, n, work, make_bundle, memory_cgroup):
    """Grows all runtimes' containers together, one of each per step in a
    rotating order (the machine's noise then hits all alike): container k
    of each runtime starts with k-1 of its own running, and as many of each
    other runtime's."""
    growers = {}
    try:
        for name in names:
            growers[name] = Grower(runtimes[name], n, work, make_bundle, memory_cgroup)

        def each(step, fn):
            for name in names[step % len(names):] + names[:step % len(names)]:
                fn(growers[name])
        for k in range(1, n + 1):
            each(k, lambda g: g.grow(k))
            if k in checkpoints(n):
                each(k, lambda g: g.probe(k))
        each(0, lambda g: g.charged())
        for k in range(1, n + 1):
            each(k, lambda g: g.shrink(k))
        return {name: growers[name].result for name in names}
    finally:
        for grower in growers.values():
            grower.clean()


def around(values, k, width=5):
    """Median create latency of the containers k-width..k+width (1-based)."""
    lo, hi = max(0, k - 1 - width), min(len(values), k + width)
    return statistics.median(values[lo:hi])


def plot(results, names, n, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5))
    everything = sorted(v * 1000 for name in names for v in results[name]["create"])
    for name in names:
        ms = [v * 1000 for v in results[name]["create"]]
        window = 25
        smooth = [statistics.median(ms[max(0, i - window):i + window + 1]) for i in range(len(ms))]
        line, = ax.plot(range(len(ms)), smooth, label=f"{name} (median of {2 * window + 1})")
        # Points as pixels: thousands of SVG circles would make a large file.
        ax.scatter(range(len(ms)), ms, s=2, alpha=0.25, color=line.get_color(), rasterized=True)
    ax.set_xlabel("containers of this runtime already running (and as many of each other one)")
    ax.set_ylabel("create latency (ms)")
    ax.set_title(f"create latency with {n} sleeping containers started one after another")
    # The few creates the machine stalled would squash the lines.
    ax.set_ylim(0, everything[int(len(everything) * 0.99)] * 1.1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def report(results, names, n, plot_name):
    ks = checkpoints(n)
    lines = ["## Scale\n",
             f"{n} sleeping containers per runtime, created and started one after another (`--scale {n}`), then "
             "deleted with `delete --force`. The runtimes grow together, one container of each per step in a rotating "
             "order, so that the machine's noise hits all alike: container k of each runtime starts with k − 1 of its "
             f"own running and as many of each other runtime's ({len(names) * n} containers at the end). Create latency "
             "at k is the median of the 11 creates around container k; `state` is of the first container (median of "
             "5), `list` the median of 3. Memory is what stays charged, per container, to a memory cgroup holding the "
             "runtime's calls and its containers' cgroups (so, unlike in the main table, every runtime call here starts "
             "in a non-root memory cgroup, as under a service manager).\n"]
    lines.append("| measurement | " + " | ".join(names) + " | husk/crun |")
    lines.append("| --- |" + " ---: |" * (len(names) + 1))

    def row(label, values, fmt):
        ratio = values["husk"] / values["crun"] if "crun" in values and "husk" in values and values["crun"] else 0
        lines.append(f"| {label} | " + " | ".join(fmt.format(values[n]) for n in names) + f" | {ratio:.2f} |")
    for k in ks:
        row(f"create at container {k}", {m: around(results[m]["create"], k) * 1000 for m in names}, "{:.2f} ms")
    for k in ks:
        row(f"state, {k} running", {m: results[m]["state"][k] * 1000 for m in names}, "{:.2f} ms")
    for k in ks:
        row(f"list, {k} running", {m: results[m]["list"][k] * 1000 for m in names}, "{:.1f} ms")
    row("memory per container", {m: results[m]["memory_kib"] for m in names}, "{:.0f} KiB")
    row(f"create + start all {n}", {m: results[m]["started_s"] for m in names}, "{:.1f} s")
    row(f"delete --force all {n}", {m: results[m]["delete_s"] for m in names}, "{:.1f} s")
    if plot_name:
        lines.append(f"\n![create latency against containers already running]({plot_name})\n")
    return lines
