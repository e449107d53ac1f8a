#!/usr/bin/python3
"""The CRI path: containerd's CRI plugin driving husk through the runc v2
shim, as the kubelet would, checked against Debian's runc.

    cri.py HUSK WORKDIR [SCENARIO...]

Starts Debian's containerd with its CRI plugin on private directories under
WORKDIR/cri-PID (root, state, socket, configuration, the runtimes' --root
directories), in a private mount namespace, with two runtime handlers of
runtime_type io.containerd.runc.v2: `runc` (BinaryName /usr/sbin/runc) and
`husk` (BinaryName HUSK). The sandbox image is a static pause program and
the containers' image a busybox rootfs, both built here and imported with
`ctr images import` into the k8s.io namespace: no registry is needed. Pods
are on the host network, so no CNI plugin is needed.

The client is Python gRPC code generated here from shared/cri-api/api.proto.
Each scenario runs with the runc handler first (which checks the scenario),
then with husk, and prints

    RESULT <scenario> <handler> PASS
    RESULT <scenario> <handler> FAIL <reason>

then `SCENARIOS DONE` (integration/cri.rs makes the table). A failure's
reason ends with the errors containerd logged meanwhile, which quote the
runtime's own. A failed run keeps its logs/ (containerd's log), CRI_KEEP=1
the whole directory. Everything is stopped and removed at the end: containerd, its shims (by
the pids in containerd's state), mounts, the pods' cgroup parent.
"""
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import crilib  # noqa: E402
from crilib import Env, Fail, HANDLERS, run  # noqa: E402



def main():
    if len(sys.argv) < 3:
        sys.exit("usage: cri.py HUSK WORKDIR [SCENARIO...]")
    husk, work = sys.argv[1], sys.argv[2]
    handlers = os.environ.get("CRI_HANDLERS", " ".join(HANDLERS)).split()
    env = Env(husk, work)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
    status_code = 0
    failed = False
    try:
        crilib.gen_stubs(os.path.join(env.t, "stubs"))
        from scenarios import SCENARIOS
        wanted = sys.argv[3:] or [name for name, _ in SCENARIOS]
        unknown = set(wanted) - {name for name, _ in SCENARIOS}
        if unknown:
            raise RuntimeError(f"no such scenario: {sorted(unknown)}")
        env.start()
        print(f"# containerd {run('containerd', '--version').split()[2]} in {env.t}", flush=True)
        for name, fn in SCENARIOS:
            if name not in wanted:
                continue
            for handler in handlers:
                offset = env.log_size()
                began = time.monotonic()
                try:
                    fn(env, handler)
                    result = "PASS"
                except Fail as e:
                    result = f"FAIL {e}"
                except Exception as e:  # an RPC refused, or the like
                    result = f"FAIL {type(e).__name__}: {getattr(e, 'details', lambda: str(e))()}"
                    if not hasattr(e, "details"):
                        traceback.print_exc(file=sys.stdout)
                if result != "PASS":
                    # The last few, less those the reason already quotes.
                    errors = [e for e in env.errors_since(offset) if e.split(": ")[-1].replace('\\"', '"') not in result]
                    if errors:
                        result += " -- containerd logged: " + " | ".join(errors[-3:])[:900]
                result = result.replace("\n", " ")
                failed = failed or result != "PASS"
                print(f"RESULT {name} {handler} {result}", flush=True)
                print(f"# {name} {handler}: {time.monotonic() - began:.1f}s", flush=True)
        print("SCENARIOS DONE", flush=True)
    except Exception:
        traceback.print_exc(file=sys.stdout)
        status_code = 1
    finally:
        try:
            problems = env.stop(keep_logs=failed or status_code != 0)
        except Exception:
            traceback.print_exc(file=sys.stdout)
            problems = ["the clean-up failed"]
        for p in problems:
            print(f"LEFT {p}", flush=True)
        if problems:
            status_code = 1
        if os.path.exists(env.t):
            print(f"# kept: {env.t}")
    sys.exit(status_code)


if __name__ == "__main__":
    main()
