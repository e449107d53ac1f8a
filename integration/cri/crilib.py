#!/usr/bin/python3
"""The helpers of cri.py (see there): containerd with the CRI plugin on private
directories, the images, and CRI calls."""
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RUNC = "/usr/sbin/runc"
PAUSE_IMAGE = "docker.io/library/husk-cri-pause:1"
IMAGE = "docker.io/library/husk-cri-busybox:1"
NS = "k8s.io"
HANDLERS = ["runc", "husk"]
LOOP = 'trap "exit 0" TERM; while :; do sleep 0.2; done'
RPC_TIMEOUT = 60

api = None  # api_pb2, generated at start
api_grpc = None


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def run(*args, check_rc=True, timeout=120, **kw):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, timeout=timeout, **kw)
    if check_rc and p.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, args))}: rc={p.returncode}: {p.stdout.decode(errors='replace')}")
    return p.stdout.decode(errors="replace")


def wait_until(seconds, what, fn):
    deadline = time.monotonic() + seconds
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Fail(f"timed out after {seconds}s waiting for {what}")
        time.sleep(0.1)


# ---------------------------------------------------------------------------
# Setting up: the stubs, the images, containerd

def gen_stubs(out):
    """api_pb2 and api_pb2_grpc from api.proto. Debian's protoc (3.12) does
    not know the `debug_redact` field option, which only marks secrets for
    logs: a copy without it compiles."""
    global api, api_grpc
    os.makedirs(out, exist_ok=True)
    # shared/ lies beside the repository (in CI too); CRI_API_PROTO names
    # another copy.
    path = os.environ.get("CRI_API_PROTO") or os.path.join(REPO, "..", "shared", "cri-api", "api.proto")
    if not os.path.exists(path):
        raise RuntimeError(f"no CRI api.proto at {path} (shared/cri-api beside the repository, or CRI_API_PROTO)")
    proto = open(path).read()
    open(os.path.join(out, "api.proto"), "w").write(re.sub(r"\s*\[debug_redact\s*=\s*true\]", "", proto))
    from grpc_tools import protoc
    rc = protoc.main(["protoc", f"-I{out}", f"--python_out={out}", f"--grpc_python_out={out}",
                      os.path.join(out, "api.proto")])
    if rc != 0:
        raise RuntimeError("protoc failed on api.proto")
    sys.path.insert(0, out)
    import api_pb2
    import api_pb2_grpc
    api, api_grpc = api_pb2, api_pb2_grpc


def build_images(t):
    busybox = os.path.join(t, "img", "busybox")
    run("sh", os.path.join(REPO, "oci-bundles", "rootfs-busybox.sh"), busybox)
    pause = os.path.join(t, "img", "pause")
    for d in ("dev", "proc", "sys", "etc"):
        os.makedirs(os.path.join(pause, d))
    run("gcc", "-static", "-Os", "-o", os.path.join(pause, "pause"), os.path.join(HERE, "pause.c"))
    image_py = os.path.join(REPO, "integration", "engines", "image.py")
    run(sys.executable, image_py, busybox, os.path.join(t, "img", "busybox.tar"), IMAGE)
    run(sys.executable, image_py, pause, os.path.join(t, "img", "pause.tar"), PAUSE_IMAGE, "/pause")


CONFIG = """version = 2
root = "{t}/root"
state = "{t}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{t}/sock"
[ttrpc]
  address = "{t}/sock.ttrpc"
[debug]
  address = "{t}/debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "{t}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  enable_selinux = false
  disable_cgroup = false
  # Without CAP_SYS_RESOURCE (as in this sandbox) no process may lower its
  # oom_score_adj: containerd then keeps the pods' at or above its own.
  restrict_oom_score_adj = {restrict_oom}
  # Pod network namespaces are mounted in containerd's own mount namespace.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{cni_bin}"
    conf_dir = "{t}/cni/conf"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
{runtimes}"""

RUNTIME = """    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.{name}.options]
        BinaryName = "{binary}"
        Root = "{t}/rt-{name}"
        SystemdCgroup = false
"""

# containerd runs in a mount namespace of its own, whose mounts are private;
# the hostPath scenario's directory is made a shared mount there, as a
# kubelet's would be (containerd refuses Bidirectional propagation from a
# private mount).
LAUNCH = """set -e
mount --bind "$1/host" "$1/host"
mount --make-shared "$1/host"
shift
exec "$@"
"""


# Debian's containernetworking-plugins.
CNI_BIN = "/usr/lib/cni"
# The pod's address on its own eth0: a documentation range (RFC 5737), on a
# device that leads nowhere; nothing is ever sent.
POD_IP = "198.51.100.7"


def cni_config(device):
    """The pods' network of a private namespace: the `host-device` plugin
    moves a device that the scenario made into the pod's namespace as
    eth0 (and back on teardown), with a static address. Nothing on the host's
    network changes."""
    return {
        "cniVersion": "0.4.0",
        "name": "husk-cri",
        "plugins": [{
            "type": "host-device",
            "device": device,
            "ipam": {"type": "static", "addresses": [{"address": f"{POD_IP}/24"}]},
        }],
    }


def restrict_oom():
    """Whether this process lacks CAP_SYS_RESOURCE (bit 24)."""
    for line in open("/proc/self/status"):
        if line.startswith("CapEff:"):
            return "false" if int(line.split()[1], 16) & (1 << 24) else "true"
    return "true"


class Env:
    def __init__(self, husk, work):
        self.t = os.path.join(os.path.realpath(work), f"cri-{os.getpid()}")
        t = self.t
        shutil.rmtree(t, ignore_errors=True)
        for d in ("logs", "cni/bin", "cni/conf", "host", "pods", "img"):
            os.makedirs(os.path.join(t, d))
        self.binaries = {"runc": os.environ.get("CRI_RUNC", RUNC), "husk": husk}
        self.cgparent = f"husk-cri-{os.getpid()}"
        # The device the pod of a private network namespace gets as eth0.
        self.netdev = f"huskcri{os.getpid() % 100000}"
        self.proc = None
        self.log = os.path.join(t, "logs", "containerd.log")
        self.sock = os.path.join(t, "sock")
        self.run_containerd_existed = os.path.isdir("/run/containerd")
        self.shim_pids = set()
        # What a scenario saw with runc, for husk's run to match.
        self.fingerprints = {}
        self.seq = 0

    # -- lifecycle

    def start(self):
        t = self.t
        build_images(t)
        runtimes = "".join(RUNTIME.format(name=n, binary=b, t=t) for n, b in self.binaries.items())
        open(os.path.join(t, "config.toml"), "w").write(CONFIG.format(t=t, pause=PAUSE_IMAGE, runtimes=runtimes, restrict_oom=restrict_oom(),
                                    cni_bin=CNI_BIN))
        open(os.path.join(t, "launch.sh"), "w").write(LAUNCH)
        with open(os.path.join(t, "cni", "conf", "10-husk-cri.conflist"), "w") as f:
            json.dump(cni_config(self.netdev), f)
        logf = open(self.log, "wb")
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", os.path.join(t, "launch.sh"), t,
             "containerd", "--config", os.path.join(t, "config.toml"), "--log-level", "debug"],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
        wait_until(30, "containerd's socket", lambda: self.proc.poll() is not None or (
            os.path.exists(self.sock) and subprocess.run(
                ["ctr", "--address", self.sock, "version"], capture_output=True).returncode == 0))
        if self.proc.poll() is not None:
            raise RuntimeError("containerd exited: " + open(self.log).read()[-2000:])
        for tar in ("pause.tar", "busybox.tar"):
            self.ctr("images", "import", os.path.join(t, "img", tar))
        import grpc
        self.channel = grpc.insecure_channel("unix://" + self.sock)
        self.rt = api_grpc.RuntimeServiceStub(self.channel)
        self.img = api_grpc.ImageServiceStub(self.channel)
        # The CRI plugin learns of imported images from containerd's events.
        wait_until(30, "the CRI plugin to see the imported images", lambda: all(
            self.img.ImageStatus(api.ImageStatusRequest(image=api.ImageSpec(image=i)), timeout=RPC_TIMEOUT).image.id
            for i in (PAUSE_IMAGE, IMAGE)))
        # The pods' cgroup parent, made as the kubelet makes its own: the
        # pods' cgroups go below it, and it is removed at the end.
        for h in self.hierarchies():
            os.makedirs(os.path.join(h, self.cgparent), exist_ok=True)

    def ctr(self, *args):
        return run("ctr", "--address", self.sock, "--namespace", NS, *args)

    def mount_ns_pid(self):
        return self.proc.pid

    def in_ns(self, *args, check_rc=True):
        """A command in containerd's mount namespace."""
        return run("nsenter", "-t", str(self.mount_ns_pid()), "-m", *args, check_rc=check_rc)

    def mounts_under(self, path):
        """Mount points at or below path in containerd's mount namespace."""
        out = []
        with open(f"/proc/{self.mount_ns_pid()}/mountinfo") as f:
            for line in f:
                mp = line.split()[4]
                if mp == path or mp.startswith(path + "/"):
                    out.append(mp)
        return out

    def pids_hierarchy(self):
        return next(h for h in self.hierarchies() if "pids" in os.path.basename(h).split(",")
                    or h == "/sys/fs/cgroup")

    @staticmethod
    def hierarchies():
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            return ["/sys/fs/cgroup"]
        hs = []
        for d in sorted(glob.glob("/sys/fs/cgroup/*/")):
            d = d.rstrip("/")
            if os.path.islink(d) or not os.path.isdir(d):
                continue
            if os.path.exists(os.path.join(d, "cgroup.procs")):
                hs.append(d)
        return hs

    def shims(self, pod_id=None):
        """The pids of this containerd's shims (of one pod), known by the
        address of our containerd on their command line."""
        found = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            args = cmdline(int(p)).split(" ")
            if f"-address {self.sock}" in " ".join(args) and (pod_id is None or pod_id in args):
                found.append(int(p))
        self.shim_pids.update(found)
        return found

    def stop(self, keep_logs=False):
        """Stops everything; returns what had to be cleaned up by force. A
        failed run's logs/ stay for the post-mortem."""
        problems = []
        if self.proc is not None:
            self.shims()
            if hasattr(self, "rt"):
                try:
                    for p in self.rt.ListPodSandbox(api.ListPodSandboxRequest(), timeout=RPC_TIMEOUT).items:
                        problems.append(f"pod {p.metadata.name} left: removed")
                        remove_pod(self, p.id)
                except Exception as e:  # containerd may be the problem
                    problems.append(f"removing the pods at the end: {e}")
                self.channel.close()
            self.shims()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                problems.append("containerd ignored SIGTERM: killed")
                self.proc.kill()
                self.proc.wait(5)
        for pid in self.shim_pids:
            if alive(pid) and self.t in cmdline(pid):
                problems.append(f"shim {pid} outlived containerd: killed")
                os.kill(pid, signal.SIGKILL)
        for h in self.hierarchies():
            top = os.path.join(h, self.cgparent)
            for d in sorted((r for r, _, _ in os.walk(top)), key=len, reverse=True):
                # Processes of a pod whose shim had to be killed.
                for pid in open(os.path.join(d, "cgroup.procs")).read().split():
                    problems.append(f"process {pid} left in {d}: killed")
                    os.kill(int(pid), signal.SIGKILL)
                for _ in range(50):
                    try:
                        os.rmdir(d)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.1)
                else:
                    problems.append(f"cgroup {d} could not be removed")
        if not self.run_containerd_existed:
            for d in ("/run/containerd/s", "/run/containerd/runc", "/run/containerd/fifo", "/run/containerd"):
                try:
                    os.rmdir(d)
                except OSError:
                    pass
        # The mount namespace went with its last process; nothing of ours
        # may be mounted in the host's.
        left = [line.split()[4] for line in open("/proc/self/mountinfo") if line.split()[4].startswith(self.t)]
        if left:
            problems.append(f"mounts left on the host: {left}")
        elif os.environ.get("CRI_KEEP") != "1":
            for entry in os.listdir(self.t):
                if not (keep_logs and entry == "logs"):
                    run("rm", "-rf", "--one-file-system", os.path.join(self.t, entry))
            if not keep_logs:
                os.rmdir(self.t)
        return problems

    # -- log excerpts

    def log_size(self):
        try:
            return os.path.getsize(self.log)
        except OSError:
            return 0

    def errors_since(self, offset):
        """The errors containerd logged since offset (the runtime's own are
        quoted in them)."""
        with open(self.log, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        msgs = []
        for line in text.splitlines():
            if "level=error" not in line or "copy shim log" in line:
                continue
            m = re.search(r'msg="((?:[^"\\]|\\.)*)"(?: error="((?:[^"\\]|\\.)*)")?', line)
            msg = (m.group(1) + (": " + m.group(2) if m.group(2) else "")) if m else line
            if msg not in msgs:
                msgs.append(msg)
        return msgs


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def cmdline(pid):
    try:
        return open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------------------
# CRI helpers

def kv(d):
    return [api.KeyValue(key=k, value=v) for k, v in d.items()]


def new_pod(env, handler, name, privileged=False, pid_mode=None, sysctls=None, network=None, hostname=""):
    """RunPodSandbox, on the host network unless told; returns (pod id, its
    config)."""
    env.seq += 1
    full = f"{name}-{handler}-{env.seq}"
    logdir = os.path.join(env.t, "pods", full)
    os.makedirs(logdir)
    ns = api.NamespaceOption(network=api.NODE if network is None else network, pid=pid_mode if pid_mode is not None else api.CONTAINER, ipc=api.POD)
    cfg = api.PodSandboxConfig(
        metadata=api.PodSandboxMetadata(name=full, uid=f"uid-{full}", namespace="husk-cri", attempt=0),
        # On the host network the pod has the host's UTS namespace: the
        # kubelet sends no hostname, and containerd gives the host's.
        hostname=hostname,
        log_directory=logdir,
        dns_config=api.DNSConfig(servers=["127.0.0.53"], searches=["husk.test"], options=["ndots:2"]),
        labels={"husk-cri": name},
        linux=api.LinuxPodSandboxConfig(
            cgroup_parent=f"/{env.cgparent}/{full}",
            sysctls=sysctls or {},
            security_context=api.LinuxSandboxSecurityContext(namespace_options=ns, privileged=privileged)),
    )
    r = env.rt.RunPodSandbox(api.RunPodSandboxRequest(config=cfg, runtime_handler=handler), timeout=RPC_TIMEOUT)
    return r.pod_sandbox_id, cfg


def remove_pod(env, pod_id):
    env.rt.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=RPC_TIMEOUT)
    env.rt.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=RPC_TIMEOUT)


def new_container(env, pod, name, script, start=True, args=None, envs=None, workdir="", mounts=None,
                  resources=None, sc=None, command=None, tty=False):
    """CreateContainer (and StartContainer) of `sh -c SCRIPT`; returns its id."""
    pod_id, pod_cfg = pod
    cfg = api.ContainerConfig(
        metadata=api.ContainerMetadata(name=name, attempt=0),
        image=api.ImageSpec(image=IMAGE),
        command=command or ["sh", "-c", script],
        args=args or [],
        working_dir=workdir,
        envs=kv(envs or {}),
        mounts=mounts or [],
        log_path=f"{name}.log",
        tty=tty,
        linux=api.LinuxContainerConfig(resources=resources, security_context=sc or api.LinuxContainerSecurityContext()),
    )
    cid = env.rt.CreateContainer(api.CreateContainerRequest(pod_sandbox_id=pod_id, config=cfg, sandbox_config=pod_cfg),
                                 timeout=RPC_TIMEOUT).container_id
    if start:
        env.rt.StartContainer(api.StartContainerRequest(container_id=cid), timeout=RPC_TIMEOUT)
    return cid


def status(env, cid, verbose=False):
    return env.rt.ContainerStatus(api.ContainerStatusRequest(container_id=cid, verbose=verbose), timeout=RPC_TIMEOUT)


def wait_exited(env, cid, seconds=30):
    return wait_until(seconds, f"container {cid[:12]} to exit", lambda: (
        lambda s: s if s.state == api.CONTAINER_EXITED else None)(status(env, cid).status))


def exec_sync(env, cid, script, timeout=20):
    r = env.rt.ExecSync(api.ExecSyncRequest(container_id=cid, cmd=["sh", "-c", script], timeout=timeout),
                        timeout=timeout + RPC_TIMEOUT)
    return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), r.exit_code


def sh(env, cid, script):
    """ExecSync that must exit 0; its stdout."""
    out, err, code = exec_sync(env, cid, script)
    check(code == 0, f"exec {script!r}: exit {code}, stderr {err.strip()!r}")
    return out


def container_pid(env, cid):
    info = json.loads(status(env, cid, verbose=True).info["info"])
    return info["pid"]


def log_lines(env, pod, name):
    path = os.path.join(pod[1].log_directory, f"{name}.log")
    try:
        return open(path).read().splitlines()
    except FileNotFoundError:
        return []


def log_text(env, pod, name, stream="stdout"):
    """The container's output on one stream, from its CRI log file
    (`<time> <stream> <F|P> <text>` lines)."""
    out = []
    for line in log_lines(env, pod, name):
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[1] == stream:
            out.append(parts[3])
    return "\n".join(out)


def cgroup_dir(pid, controller):
    """The host directory of pid's cgroup in controller's hierarchy."""
    for line in open(f"/proc/{pid}/cgroup"):
        _, ctrls, path = line.rstrip("\n").split(":", 2)
        if controller in ctrls.split(","):
            for h in glob.glob("/sys/fs/cgroup/*"):
                if controller in os.path.basename(h).split(",") and not os.path.islink(h):
                    return h + path
    raise Fail(f"no {controller} cgroup for pid {pid}")


def read(path):
    return open(path).read().strip()


def status_field(text, field):
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return None
