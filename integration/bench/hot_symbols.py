#!/usr/bin/env python3
"""Writes hot-symbols.txt: the functions husk runs on its hot path, for
build.rs to link first (see there why).

    sudo /usr/bin/python3 integration/bench/hot_symbols.py   # after cargo build --release
    cargo build --release                                     # links with the new list

Every verb's own process is run under callgrind (exact: every function that
ran); the container's init, which needs system calls valgrind does not know
(openat2, clone3), is sampled with `perf record` over many `run`s and
`exec`s instead. The names are the binary's, hashes and all: they stay
valid until the crate's metadata changes (Cargo.toml, Cargo.lock, the
toolchain), after which build.rs skips the names that are gone and this
script should be run again. The bench reports how many of the names the
binary still has.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
import bench  # noqa: E402

OUT = os.path.join(bench.REPO, "hot-symbols.txt")
PERF_RUNS = 150
# glibc's string functions come in variants for each CPU (an ifunc picks one
# at start, running every resolver): valgrind's CPU is not the host's, so
# every variant of a family that ran is listed, and every resolver.
STRING_FAMILY = re.compile(r"(__(?:mem|str|stp|raw|wmem|wcs)[a-z]*?)_(?:sse|avx|evex|erms)")
# What runs before every create, run and exec but not here, where husk is
# read-only already (the move onto a read-only view, security/exe.rs).
UNPROFILED = re.compile(r"4husk(3sys8exe_view|8security3exe)")


def callgrind_functions(path):
    """Functions with a cost in one callgrind output, in the file's order
    (names are compressed: `fn=(id) name` the first time, `fn=(id)` after)."""
    names, ran = {}, []
    with open(path, errors="replace") as f:
        for line in f:
            if not line.startswith(("fn=(", "cfn=(")):
                continue
            kind, rest = line.rstrip("\n").split("=(", 1)
            number, _, name = rest.partition(")")
            if name.strip():
                names[number] = name.strip()
            if kind == "fn" and number in names:
                ran.append(names[number])
    return ran


def script(husk, root, bundles):
    """The verbs, as engines call them: each under callgrind but the set-up
    steps (marked "plain")."""
    run_bundle, sleep_bundle = bundles
    r = ["--root", root]
    return [
        ("cg", [husk, *r, "create", "--bundle", sleep_bundle, "c1"]),
        ("cg", [husk, *r, "--debug", "--log", os.path.join(root, "log"), "--log-format", "json", "create", "--bundle", sleep_bundle, "c2"]),
        ("plain", [husk, *r, "create", "--bundle", sleep_bundle, "c3"]),
        ("cg", [husk, *r, "start", "c3"]),
        ("cg", [husk, *r, "state", "c3"]),
        ("cg", [husk, *r, "list"]),
        ("cg", [husk, *r, "exec", "c3", "true"]),
        ("cg", [husk, *r, "kill", "c3", "KILL"]),
        ("cg", [husk, *r, "delete", "--force", "c3"]),
        ("cg", [husk, *r, "delete", "--force", "c1"]),
        ("cg", [husk, *r, "delete", "--force", "c2"]),
        ("cg", [husk, *r, "run", "--bundle", run_bundle, "c4"]),
        ("cg", [husk, *r, "delete", "c4"]),
        ("cg", [husk, *r, "state", "missing"]),
        ("cg", [husk, "--version"]),
    ]


def inner(husk, work):
    root = os.path.join(work, "state")
    bundles = (bench.make_bundle(work, ["true"]), bench.make_bundle(work, ["sleep", "1000"]))
    outs = os.path.join(work, "cg")
    os.makedirs(outs)
    order = []
    for i, (how, cmd) in enumerate(script(husk, root, bundles)):
        if how == "cg":
            out = os.path.join(outs, f"{i}.%p.out")
            cmd = ["valgrind", "--tool=callgrind", "--demangle=no", "--trace-children=yes", f"--callgrind-out-file={out}", *cmd]
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for name in sorted(os.listdir(outs), key=lambda n: [int(p) if p.isdigit() else p for p in n.split(".")]):
        order += callgrind_functions(os.path.join(outs, name))
    # The init's set-up, sampled.
    data = os.path.join(work, "perf.data")
    loop = (f"for i in $(seq {PERF_RUNS}); do {husk} --root {root} run --bundle {bundles[0]} p$i; done; "
            f"{husk} --root {root} run -d --bundle {bundles[1]} px; "
            f"for i in $(seq {PERF_RUNS // 2}); do {husk} --root {root} exec px true; done; "
            f"{husk} --root {root} delete --force px")
    subprocess.run(["perf", "record", "-q", "-F", "20000", "-e", "cpu-clock", "-o", data, "--", "sh", "-c", loop],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    report = subprocess.run(["perf", "report", "-i", data, "--no-demangle", "--sort", "sym", "--stdio"],
                            check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    order += [line.split()[-1] for line in report.splitlines() if "[.]" in line]
    known = defined_functions(husk)
    families = {m.group(1) for m in map(STRING_FAMILY.match, order) if m}
    order += [n for n in known if n.endswith("_ifunc") or any(n.startswith(f + "_") for f in families) or UNPROFILED.search(n)]
    known = set(known)
    seen = dict.fromkeys(name for name in order if name in known)
    with open(OUT, "w") as f:
        f.write("\n".join(seen) + "\n")
    print(f"hot_symbols: {len(seen)} functions written to {OUT}; now rebuild (cargo build --release)")


def defined_functions(binary):
    nm = subprocess.run(["nm", binary], check=True, stdout=subprocess.PIPE, text=True).stdout
    return [p[2] for p in (line.split() for line in nm.splitlines()) if len(p) == 3 and p[1] in "tTwW"]


def main():
    if os.geteuid() != 0:
        sys.exit("hot_symbols: run as root")
    for tool in ("valgrind", "perf", "nm"):
        if not shutil.which(tool):
            sys.exit(f"hot_symbols: needs {tool}")
    if len(sys.argv) > 1 and sys.argv[1] == "--inner":
        work = tempfile.mkdtemp(prefix="husk-hot-")
        try:
            # husk from a read-only bind, so that it does not re-exec
            # itself from a detached view (whose path perf cannot map).
            view = os.path.join(work, "bin")
            os.makedirs(view)
            husk = os.path.join(view, "husk")
            open(husk, "w").close()
            subprocess.run(["mount", "--bind", bench.HUSK, husk], check=True)
            subprocess.run(["mount", "-o", "remount,bind,ro", husk], check=True)
            inner(husk, work)
        finally:
            for cid in os.listdir(os.path.join(work, "state")) if os.path.isdir(os.path.join(work, "state")) else []:
                subprocess.run([bench.HUSK, "--root", os.path.join(work, "state"), "delete", "--force", cid], stderr=subprocess.DEVNULL)
            subprocess.run(["umount", os.path.join(work, "bin", "husk")], stderr=subprocess.DEVNULL)
            shutil.rmtree(work, ignore_errors=True)
        return
    if not os.path.exists(bench.HUSK):
        sys.exit("hot_symbols: build husk first: cargo build --release")
    sys.exit(subprocess.run(["unshare", "--mount", "--propagation", "private", "--", sys.executable,
                             os.path.abspath(__file__), "--inner"]).returncode)


if __name__ == "__main__":
    main()
