"""The CRI suite's scenarios (see cri.py). Each is a function of (env,
handler) that raises Fail with the reason; it makes its own pod and removes
it, so one scenario's failure does not spill into the next."""
import json
import os
import socket
import time

import api_pb2 as api
from crilib import (LOOP, NS, POD_IP, Fail, check, container_pid, cgroup_dir, exec_sync, log_text, new_container,
                    new_pod, read, remove_pod, sh, status, status_field, wait_exited, wait_until)
from crilib import run as run_host


class Pod:
    """A pod for the length of a `with`, removed after (containers too)."""

    def __init__(self, env, handler, name, **kw):
        self.env, self.handler, self.name, self.kw = env, handler, name, kw

    def __enter__(self):
        self.pod = new_pod(self.env, self.handler, self.name, **self.kw)
        return self.pod

    def __exit__(self, *exc):
        remove_pod(self.env, self.pod[0])


def container_cgroup(env, cid, controller):
    return cgroup_dir(container_pid(env, cid), controller)


# ---------------------------------------------------------------------------

def scen_version(env, handler):
    v = env.rt.Version(api.VersionRequest(version="v1"), timeout=30)
    check(v.runtime_name == "containerd", f"runtime_name {v.runtime_name!r}")
    check(v.runtime_api_version == "v1", f"runtime_api_version {v.runtime_api_version!r}")
    # The handler is configured as the suite wrote it.
    st = env.rt.Status(api.StatusRequest(verbose=True), timeout=30)
    config = json.loads(st.info["config"])
    rt = config["containerd"]["runtimes"][handler]
    check(rt["runtimeType"] == "io.containerd.runc.v2", f"runtimeType {rt['runtimeType']!r}")
    check(rt["options"]["BinaryName"] == env.binaries[handler], f"options {rt['options']}")
    ready = {c.type: c.status for c in st.status.conditions}
    check(ready.get("RuntimeReady"), f"conditions {ready}")


def scen_pod_ready(env, handler):
    with Pod(env, handler, "ready") as pod:
        pod_id, cfg = pod
        s = env.rt.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=True), timeout=30)
        check(s.status.state == api.SANDBOX_READY, f"state {s.status.state}")
        check(s.status.linux.namespaces.options.network == api.NODE, "network not NODE")
        info = json.loads(s.info["info"])
        check(info["runtimeHandler"] == handler, f"runtimeHandler {info['runtimeHandler']!r}")
        pause = info["pid"]
        # runc's start returns before its init has exec'd the process.
        wait_until(5, f"sandbox pid {pause} to be pause", lambda: read(f"/proc/{pause}/comm") == "pause")
        mem = cgroup_dir(pause, "memory")
        check(mem.endswith(f"{env.cgparent}/{cfg.metadata.name}/{pod_id}"), f"sandbox memory cgroup {mem}")
        cid = new_container(env, pod, "c", 'cat /etc/hostname; echo "HOSTNAME=$HOSTNAME"; cat /etc/resolv.conf')
        st = wait_exited(env, cid)
        check(st.exit_code == 0, f"exit code {st.exit_code}")
        out = log_text(env, pod, "c")
        host = socket.gethostname()
        check(out.splitlines()[:2] == [host, f"HOSTNAME={host}"], f"hostname lines: {out!r}, want {host!r}")
        for want in ("nameserver 127.0.0.53", "search husk.test", "options ndots:2"):
            check(want in out.splitlines(), f"resolv.conf lacks {want!r}: {out!r}")


def scen_private_network(env, handler):
    """A pod with network namespaces of its own (through CNI) and its own
    UTS namespace, so its hostname too."""
    # A veth pair (this kernel has no dummy devices): one end becomes the
    # pod's eth0, the other stays down on the host, without an address.
    run_host("ip", "link", "add", env.netdev, "type", "veth", "peer", "name", env.netdev + "p")
    try:
        with Pod(env, handler, "netns", network=api.POD, hostname=f"netns-{handler}") as pod:
            pod_id, cfg = pod
            s = env.rt.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=pod_id, verbose=True), timeout=30)
            check(s.status.state == api.SANDBOX_READY, f"state {s.status.state}")
            check(s.status.network.ip == POD_IP, f"pod IP {s.status.network.ip!r}")
            pause = json.loads(s.info["info"])["pid"]
            cid = new_container(env, pod, "c", LOOP)
            pid = container_pid(env, cid)
            for ns in ("net", "uts"):
                mine, pods, host = (os.readlink(f"/proc/{p}/ns/{ns}") for p in (pid, pause, "self"))
                check(mine == pods != host, f"{ns} namespace: container {mine}, pod {pods}, host {host}")
            out = sh(env, cid, "hostname; cat /etc/hostname; ip -o -4 addr show")
            lines = out.splitlines()
            check(lines[:2] == [cfg.hostname] * 2, f"hostname: {out!r}")
            check(any(" eth0 " in ln and f"inet {POD_IP}/24" in ln for ln in lines), f"no eth0 {POD_IP}: {out!r}")
            check(any(" lo " in ln and "inet 127.0.0.1/8" in ln for ln in lines), f"no lo: {out!r}")
        # Torn down: the device is back on the host.
        check(os.path.exists(f"/sys/class/net/{env.netdev}"), "the pod's device did not come back")
    finally:
        run_host("ip", "link", "del", env.netdev, check_rc=False)


def scen_container_run(env, handler):
    with Pod(env, handler, "run") as pod:
        cid = new_container(env, pod, "c", None, command=["sh", "-c"],
                            args=['echo "args=$0|$1 foo=$FOO cwd=$(pwd)"; echo to-stderr >&2', "zero", "one two"],
                            envs={"FOO": "bar baz"}, workdir="/work/dir")
        st = wait_exited(env, cid)
        check(st.exit_code == 0 and st.reason == "Completed", f"exit {st.exit_code} reason {st.reason!r}")
        out, err = log_text(env, pod, "c"), log_text(env, pod, "c", "stderr")
        check(out == "args=zero|one two foo=bar baz cwd=/work/dir", f"stdout in the log {out!r}")
        check(err == "to-stderr", f"stderr in the log {err!r}")
        lines = open(st.log_path).read().splitlines()
        check(sorted(line.split(" ", 1)[1] for line in lines) == [
            "stderr F to-stderr", "stdout F args=zero|one two foo=bar baz cwd=/work/dir"], f"CRI log {lines!r}")
        # containerd stamps started_at once the start returned, which a
        # process this short may outlive: only the order after created_at
        # holds.
        check(0 < st.created_at <= min(st.started_at, st.finished_at),
              f"timestamps created {st.created_at} started {st.started_at} finished {st.finished_at}")


def scen_exec_sync(env, handler):
    with Pod(env, handler, "exec") as pod:
        cid = new_container(env, pod, "c", LOOP)
        out, err, code = exec_sync(env, cid, "echo out; echo err >&2; exit 4")
        check((out, err, code) == ("out\n", "err\n", 4), f"exec: {out!r} {err!r} {code}")
        began = time.monotonic()
        try:
            exec_sync(env, cid, "sleep 30", timeout=1)
            raise Fail("an exec past its timeout returned normally")
        except Fail:
            raise
        except Exception as e:
            details = e.details() if hasattr(e, "details") else str(e)
            check("timeout" in details, f"exec past its timeout: {details}")
        took = time.monotonic() - began
        check(took < 10, f"the timed-out exec took {took:.1f}s")
        # The container is unharmed.
        check(sh(env, cid, "echo alive") == "alive\n", "no answer after the timeout")
        check(status(env, cid).status.state == api.CONTAINER_RUNNING, "not running after the exec")


def scen_tty(env, handler):
    """A container with a terminal: the shim hands the runtime a console
    socket, and the pty's output is the log's."""
    with Pod(env, handler, "tty") as pod:
        cid = new_container(env, pod, "c", "tty; readlink /proc/self/fd/1; readlink /proc/self/fd/2", tty=True)
        st = wait_exited(env, cid)
        out = [line.rstrip("\r") for line in log_text(env, pod, "c").splitlines()]
        check(st.exit_code == 0, f"exit {st.exit_code}: {out!r}")
        check(len(out) == 3 and out[0].startswith("/dev/pts/") and out[1:] == out[:1] * 2,
              f"stdin, stdout and stderr should be one pty: {out!r}")
        check(log_text(env, pod, "c", "stderr") == "", "a terminal's output is all stdout")


def scen_sysctls(env, handler):
    """The pod's namespaced sysctls, set in its IPC namespace, which the
    container shares."""
    with Pod(env, handler, "sysctl", sysctls={"kernel.shm_rmid_forced": "1", "kernel.msgmax": "12345"}) as pod:
        cid = new_container(env, pod, "c", LOOP)
        got = sh(env, cid, "cat /proc/sys/kernel/shm_rmid_forced /proc/sys/kernel/msgmax").split()
        check(got == ["1", "12345"], f"in the container: {got}")
        host = read("/proc/sys/kernel/msgmax")
        check(host != "12345", "the host's msgmax changed")


def scen_exit_code(env, handler):
    with Pod(env, handler, "exit") as pod:
        cid = new_container(env, pod, "c", "echo bye; exit 3")
        st = wait_exited(env, cid)
        check(st.exit_code == 3 and st.reason == "Error", f"exit {st.exit_code} reason {st.reason!r}")
        check(log_text(env, pod, "c") == "bye", "log")


def scen_stats(env, handler):
    with Pod(env, handler, "stats") as pod:
        cid = new_container(env, pod, "c", 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; ' + LOOP)
        time.sleep(1)

        def usable():
            s = env.rt.ContainerStats(api.ContainerStatsRequest(container_id=cid), timeout=30).stats
            return s if s.cpu.usage_core_nano_seconds.value > 0 and s.memory.working_set_bytes.value > 0 else None
        s = wait_until(10, "non-zero cpu and memory in ContainerStats", usable)
        check(s.attributes.id == cid, "ContainerStats of another container")
        listed = env.rt.ListContainerStats(api.ListContainerStatsRequest(
            filter=api.ContainerStatsFilter(pod_sandbox_id=pod[0])), timeout=30).stats
        mine = [x for x in listed if x.attributes.id == cid]
        check(len(mine) == 1, f"ListContainerStats: {[x.attributes.id for x in listed]}")
        check(mine[0].cpu.usage_core_nano_seconds.value > 0 and mine[0].memory.working_set_bytes.value > 0,
              f"ListContainerStats: {mine[0]}")


def scen_resources(env, handler):
    # The pod-level pids limit is the kubelet's, on the pod's cgroup (CRI
    # has no field for it): made here before the pod, as the kubelet does.
    pod_pids = os.path.join(env.pids_hierarchy(), env.cgparent, f"res-{handler}-{env.seq + 1}")
    os.makedirs(pod_pids)
    with open(os.path.join(pod_pids, "pids.max"), "w") as f:
        f.write("24")
    with Pod(env, handler, "res") as pod:
        check(pod[1].linux.cgroup_parent.endswith(os.path.basename(pod_pids)), "the pod's cgroup name")
        res = api.LinuxContainerResources(memory_limit_in_bytes=64 << 20, cpu_period=100000, cpu_quota=50000,
                                          cpu_shares=512)
        cid = new_container(env, pod, "c", LOOP, resources=res)
        mem, cpu, pids = (container_cgroup(env, cid, c) for c in ("memory", "cpu", "pids"))
        for d in (mem, cpu, pids):
            check(d.endswith(f"/{env.cgparent}/{pod[1].metadata.name}/{cid}"), f"cgroup {d}")
        check(read(f"{mem}/memory.limit_in_bytes") == str(64 << 20), "memory.limit_in_bytes")
        check(read(f"{cpu}/cpu.cfs_quota_us") == "50000", "cpu.cfs_quota_us")
        check(read(f"{cpu}/cpu.cfs_period_us") == "100000", "cpu.cfs_period_us")
        check(read(f"{cpu}/cpu.shares") == "512", "cpu.shares")
        check(int(read(f"{pids}/pids.current")) >= 1, "pids.current")
        # Seen from inside: the container's own cgroup at /sys/fs/cgroup.
        inside = sh(env, cid, "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/cpu/cpu.shares")
        check(inside.split() == [str(64 << 20), "512"], f"inside: {inside!r}")
        procs = sh(env, cid, "cat /sys/fs/cgroup/pids/cgroup.procs").split()
        check(len(procs) >= 2, f"pids cgroup.procs inside: {procs}")
        # The container is below the pod's limit: 30 more processes fail.
        out, err, code = exec_sync(env, cid, "for i in $(seq 30); do sleep 1 & done; wait")
        check("can't fork" in err or "Resource temporarily unavailable" in err,
              f"30 processes under the pod's pids.max of 24: exit {code} {err[:200]!r}")


def scen_update_resources(env, handler):
    with Pod(env, handler, "upd") as pod:
        res = api.LinuxContainerResources(memory_limit_in_bytes=64 << 20, cpu_period=100000, cpu_quota=50000,
                                          cpu_shares=512)
        cid = new_container(env, pod, "c", LOOP, resources=res)
        new = api.LinuxContainerResources(memory_limit_in_bytes=96 << 20, cpu_period=100000, cpu_quota=20000,
                                          cpu_shares=256)
        env.rt.UpdateContainerResources(api.UpdateContainerResourcesRequest(container_id=cid, linux=new), timeout=30)
        mem, cpu = container_cgroup(env, cid, "memory"), container_cgroup(env, cid, "cpu")
        got = (read(f"{mem}/memory.limit_in_bytes"), read(f"{cpu}/cpu.cfs_quota_us"), read(f"{cpu}/cpu.shares"))
        check(got == (str(96 << 20), "20000", "256"), f"after update: {got}")
        check(sh(env, cid, "echo alive") == "alive\n", "no answer after the update")


PROC_STATUS = "cat /proc/self/status"


def scen_run_as_user(env, handler):
    with Pod(env, handler, "user") as pod:
        sc = api.LinuxContainerSecurityContext(run_as_user=api.Int64Value(value=1000),
                                               run_as_group=api.Int64Value(value=1000),
                                               supplemental_groups=[5, 4242])
        cid = new_container(env, pod, "c", LOOP, sc=sc)
        st = sh(env, cid, PROC_STATUS)
        check(status_field(st, "Uid").split() == ["1000"] * 4, f"Uid {status_field(st, 'Uid')}")
        check(status_field(st, "Gid").split() == ["1000"] * 4, f"Gid {status_field(st, 'Gid')}")
        groups = set(status_field(st, "Groups").split())
        check({"5", "4242"} <= groups, f"Groups {groups}")
        check(status_field(st, "CapEff") == "0" * 16, f"CapEff of uid 1000 {status_field(st, 'CapEff')}")
        pid1 = read(f"/proc/{container_pid(env, cid)}/status")
        check(status_field(pid1, "Uid").split() == ["1000"] * 4, "the container's process is not uid 1000")


def scen_read_only_root(env, handler):
    with Pod(env, handler, "ro") as pod:
        sc = api.LinuxContainerSecurityContext(readonly_rootfs=True)
        cid = new_container(env, pod, "c", LOOP, sc=sc)
        out, err, code = exec_sync(env, cid, "touch /probe")
        check(code != 0 and "Read-only file system" in err, f"touch /probe: exit {code} {err!r}")
        # The files containerd mounts stay writable where they should be.
        sh(env, cid, "echo x > /dev/shm/probe")


def scen_capabilities(env, handler):
    with Pod(env, handler, "caps") as pod:
        sc = api.LinuxContainerSecurityContext(
            capabilities=api.Capability(drop_capabilities=["ALL"], add_capabilities=["NET_BIND_SERVICE"]),
            no_new_privs=True)
        cid = new_container(env, pod, "c", LOOP, sc=sc)
        st = sh(env, cid, PROC_STATUS)
        for f in ("CapEff", "CapPrm", "CapBnd"):
            check(status_field(st, f) == "0000000000000400", f"{f} {status_field(st, f)}, want NET_BIND_SERVICE only")
        check(status_field(st, "NoNewPrivs") == "1", f"NoNewPrivs {status_field(st, 'NoNewPrivs')}")
        # NET_BIND_SERVICE at work: a port below 1024 on the host network.
        sh(env, cid, "nc -l -p 1023 & p=$!; sleep 0.3; kill $p")


def scen_seccomp_default(env, handler):
    with Pod(env, handler, "secdef") as pod:
        sc = api.LinuxContainerSecurityContext(seccomp=api.SecurityProfile(profile_type=api.SecurityProfile.RuntimeDefault))
        cid = new_container(env, pod, "c", LOOP, sc=sc)
        st = sh(env, cid, PROC_STATUS)
        check(status_field(st, "Seccomp") == "2", f"Seccomp {status_field(st, 'Seccomp')}")
        # containerd's default profile refuses unshare without CAP_SYS_ADMIN.
        out, err, code = exec_sync(env, cid, "unshare -U true")
        check(code != 0 and "Operation not permitted" in err, f"unshare -U: exit {code} {err!r}")


SECCOMP_PROFILE = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
}


def scen_seccomp_localhost(env, handler):
    profile = os.path.join(env.t, "seccomp-mkdir.json")
    with open(profile, "w") as f:
        json.dump(SECCOMP_PROFILE, f)
    with Pod(env, handler, "secloc") as pod:
        sc = api.LinuxContainerSecurityContext(
            seccomp=api.SecurityProfile(profile_type=api.SecurityProfile.Localhost, localhost_ref=profile))
        cid = new_container(env, pod, "c", LOOP, sc=sc)
        out, err, code = exec_sync(env, cid, "mkdir /tmp/d")
        check(code != 0 and "Permission denied" in err, f"mkdir under the profile: exit {code} {err!r}")
        sh(env, cid, "touch /tmp/f")


def scen_masked_readonly_paths(env, handler):
    with Pod(env, handler, "paths") as pod:
        sc = api.LinuxContainerSecurityContext(masked_paths=["/proc/timer_list", "/sys/firmware", "/etc/group"],
                                               readonly_paths=["/proc/sys", "/proc/sysrq-trigger", "/home"])
        cid = new_container(env, pod, "c", LOOP, sc=sc)
        out = sh(env, cid, "wc -c < /proc/timer_list; wc -c < /etc/group; ls -A /sys/firmware | wc -l")
        check(out.split() == ["0", "0", "0"], f"masked paths not empty: {out!r}")
        for path in ("/proc/sys", "/home"):
            mi = sh(env, cid, f"grep ' {path} ' /proc/self/mountinfo")
            check(mi.split()[5].split(",")[0] == "ro", f"{path} not read-only: {mi!r}")
        out, err, code = exec_sync(env, cid, "touch /home/x")
        check(code != 0, "a read-only path took a write")


def scen_privileged(env, handler):
    with Pod(env, handler, "priv", privileged=True) as pod:
        sc = api.LinuxContainerSecurityContext(privileged=True)
        cid = new_container(env, pod, "c", LOOP, sc=sc)
        st = sh(env, cid, PROC_STATUS)
        host_bnd = status_field(read("/proc/self/status"), "CapBnd")
        check(status_field(st, "CapEff") == host_bnd, f"CapEff {status_field(st, 'CapEff')} want {host_bnd}")
        check(status_field(st, "Seccomp") == "0", f"Seccomp {status_field(st, 'Seccomp')}")
        mi = sh(env, cid, "grep ' /sys ' /proc/self/mountinfo")
        check(mi.split()[5].split(",")[0] == "rw", f"/sys not read-write: {mi!r}")
        check(sh(env, cid, "test -c /dev/kmsg && echo host-devices") == "host-devices\n", "no /dev/kmsg")
        sh(env, cid, "mkdir /tmp/m && mount -t tmpfs none /tmp/m && umount /tmp/m")


def scen_host_path_propagation(env, handler):
    host = os.path.join(env.t, "host", f"{handler}-{env.seq}")
    h2c, bidir = os.path.join(host, "h2c"), os.path.join(host, "bidir")
    for d in (h2c, bidir):
        os.makedirs(d)
    with open(os.path.join(h2c, "file"), "w") as f:
        f.write("from-host\n")
    mounts = [api.Mount(container_path="/mnt/h2c", host_path=h2c, propagation=api.PROPAGATION_HOST_TO_CONTAINER),
              api.Mount(container_path="/mnt/bidir", host_path=bidir, propagation=api.PROPAGATION_BIDIRECTIONAL)]
    host_mounted = []
    try:
        with Pod(env, handler, "prop", privileged=True) as pod:
            cid = new_container(env, pod, "c", LOOP, mounts=mounts, sc=api.LinuxContainerSecurityContext(privileged=True))
            check(sh(env, cid, "cat /mnt/h2c/file") == "from-host\n", "the hostPath's file")
            # Host to container: a mount made on the host after the start.
            sub = os.path.join(h2c, "sub")
            os.makedirs(sub)
            env.in_ns("mount", "-t", "tmpfs", "-o", "size=1m", "h2c-tmpfs", sub)
            host_mounted.append(sub)
            env.in_ns("sh", "-c", f"echo late > {sub}/late")
            got = wait_until(5, "the host's mount in the container", lambda: exec_sync(
                env, cid, "cat /mnt/h2c/sub/late 2>/dev/null")[0])
            check(got == "late\n", f"host-to-container: {got!r}")
            # Bidirectional: a mount made in the container reaches the host.
            sh(env, cid, "mkdir /mnt/bidir/sub && mount -t tmpfs -o size=1m bidir-tmpfs /mnt/bidir/sub && "
                         "echo from-container > /mnt/bidir/sub/f")
            host_sub = os.path.join(bidir, "sub")
            host_mounted.append(host_sub)
            check(host_sub in env.mounts_under(bidir), f"the container's mount is not on the host: "
                                                        f"{env.mounts_under(host)}")
            check(env.in_ns("cat", os.path.join(host_sub, "f")) == "from-container\n", "the file in it")
            sh(env, cid, "umount /mnt/bidir/sub")
    finally:
        for m in reversed(host_mounted):
            env.in_ns("umount", m, check_rc=False)
    left = env.mounts_under(host)
    check(not left, f"mounts left under the hostPath: {left}")


def scen_shared_pid(env, handler):
    with Pod(env, handler, "pidns", pid_mode=api.POD) as pod:
        a = new_container(env, pod, "a", None, command=["sleep", "12345"])
        b = new_container(env, pod, "b", LOOP, sc=api.LinuxContainerSecurityContext(
            namespace_options=api.NamespaceOption(network=api.NODE, pid=api.POD, ipc=api.POD)))
        wait_until(5, "container a to run sleep", lambda: read(f"/proc/{container_pid(env, a)}/comm") == "sleep")
        out = sh(env, b, "cat /proc/1/comm; ps -o args")
        check(out.splitlines()[0] == "pause", f"pid 1 of the pod is not pause: {out!r}")
        check("sleep 12345" in out, f"b does not see a's process: {out!r}")
        ns = {os.readlink(f"/proc/{container_pid(env, c)}/ns/pid") for c in (a, b)}
        check(len(ns) == 1, f"pid namespaces {ns}")


def scen_oom_killed(env, handler):
    with Pod(env, handler, "oom") as pod:
        res = api.LinuxContainerResources(memory_limit_in_bytes=32 << 20)
        cid = new_container(env, pod, "c", "echo filling; tail /dev/zero", resources=res)
        st = wait_exited(env, cid, 60)
        check(st.exit_code == 137 and st.reason == "OOMKilled", f"exit {st.exit_code} reason {st.reason!r}")


def scen_stop_grace(env, handler):
    with Pod(env, handler, "stop") as pod:
        cid = new_container(env, pod, "c", 'trap "" TERM; echo ready; while :; do sleep 0.2; done')
        wait_until(10, "the trap to be set", lambda: log_text(env, pod, "c") == "ready")
        began = time.monotonic()
        env.rt.StopContainer(api.StopContainerRequest(container_id=cid, timeout=2), timeout=60)
        took = time.monotonic() - began
        st = status(env, cid).status
        check(st.state == api.CONTAINER_EXITED and st.exit_code == 137, f"state {st.state} exit {st.exit_code}")
        check(2 <= took < 10, f"StopContainer with a 2s grace took {took:.1f}s")
        # One that honours SIGTERM stops at once, with its own exit code.
        c2 = new_container(env, pod, "d", 'trap "exit 7" TERM; echo ready; while :; do sleep 0.2; done')
        wait_until(10, "the trap to be set", lambda: log_text(env, pod, "d") == "ready")
        began = time.monotonic()
        env.rt.StopContainer(api.StopContainerRequest(container_id=c2, timeout=10), timeout=60)
        took = time.monotonic() - began
        st = status(env, c2).status
        check(st.exit_code == 7 and took < 5, f"SIGTERM-honouring stop: exit {st.exit_code} in {took:.1f}s")


def scen_reopen_log(env, handler):
    with Pod(env, handler, "reopen") as pod:
        cid = new_container(env, pod, "c", 'i=0; while :; do i=$((i+1)); echo "line $i"; sleep 0.1; done')
        path = status(env, cid).status.log_path
        wait_until(10, "a first line", lambda: "line 1" in log_text(env, pod, "c"))
        os.rename(path, path + ".1")
        env.rt.ReopenContainerLog(api.ReopenContainerLogRequest(container_id=cid), timeout=30)
        got = wait_until(10, "lines in the reopened log", lambda: os.path.exists(path) and log_text(env, pod, "c"))
        check(got.startswith("line ") and "line 1\n" not in got, f"reopened log {got!r}")


def scen_remove(env, handler):
    pod_id, cfg = new_pod(env, handler, "rm")
    try:
        cid = new_container(env, (pod_id, cfg), "c", LOOP)
        pid = container_pid(env, cid)
        mem = cgroup_dir(pid, "memory")
        rt_root = os.path.join(env.t, f"rt-{handler}", NS)
        check(os.path.isdir(os.path.join(rt_root, cid)), f"no runtime state for the container in {rt_root}")
        shims = env.shims(pod_id)
        check(len(shims) == 1, f"shims of the pod: {shims}")
        shim_pid = shims[0]
        env.rt.StopContainer(api.StopContainerRequest(container_id=cid, timeout=10), timeout=60)
        env.rt.RemoveContainer(api.RemoveContainerRequest(container_id=cid), timeout=30)
        listed = [c.id for c in env.rt.ListContainers(api.ListContainersRequest(), timeout=30).containers]
        check(cid not in listed, "the removed container is listed")
        check(not os.path.exists(os.path.join(rt_root, cid)), "the container's runtime state is left")
        check(not os.path.exists(mem), f"the container's cgroup {mem} is left")
        check(not os.path.exists(f"/proc/{pid}"), "the container's process is left")
    finally:
        env.rt.StopPodSandbox(api.StopPodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
        s = env.rt.PodSandboxStatus(api.PodSandboxStatusRequest(pod_sandbox_id=pod_id), timeout=30).status
        env.rt.RemovePodSandbox(api.RemovePodSandboxRequest(pod_sandbox_id=pod_id), timeout=60)
    check(s.state == api.SANDBOX_NOTREADY, f"after StopPodSandbox: state {s.state}")
    pods = [p.id for p in env.rt.ListPodSandbox(api.ListPodSandboxRequest(), timeout=30).items]
    check(pod_id not in pods, "the removed pod is listed")
    check(not os.path.exists(os.path.join(rt_root, pod_id)), "the sandbox's runtime state is left")
    wait_until(10, f"the shim {shim_pid} to exit", lambda: not os.path.exists(f"/proc/{shim_pid}"))


FINGERPRINT = r"""
grep -E '^(Cap|NoNewPrivs|Seccomp|Uid|Gid|Groups|Umask|Speculation)' /proc/self/status
cat /proc/self/limits
echo "oom_score_adj $(cat /proc/self/oom_score_adj)"
echo "cwd $(pwd) hostname $(hostname)"
env | sort
# Mount points, filesystem types and options; not the sources (paths with ids).
awk '{ for (i = 7; $i != "-"; i++) ; print $5, $(i+1), $6, $(i+3) }' /proc/self/mountinfo |
    sed -E 's/(lowerdir|upperdir|workdir)=[^,]*/\1=X/g; s/[0-9a-f]{64}/ID/g' | sort
ls -ln /dev /dev/pts /dev/shm /dev/mqueue | sed -E 's/ +[A-Z][a-z]{2} +[0-9]+ +[0-9:]+ / /' | sort
sed -E 's/[0-9a-f]{64}/ID/g; s/-(runc|husk)-[0-9]+/-X/g' /proc/self/cgroup | sort
"""


def same_as_runc(env, handler, key, pod_kw, sc):
    """The container's view of itself (its credentials, limits, mounts,
    devices, environment and cgroups) for one CRI config, with husk as with
    runc (whose run comes first and is kept)."""
    with Pod(env, handler, key, **pod_kw) as pod:
        cid = new_container(env, pod, "c", LOOP, envs={"FOO": "bar"}, sc=sc)
        seen = sh(env, cid, FINGERPRINT).splitlines()
    if handler == "runc":
        env.fingerprints[key] = seen
        return
    want = env.fingerprints.get(key)
    if want is None:  # CRI_HANDLERS=husk: no runc run to compare with
        return
    missing = [line for line in want if line not in seen]
    extra = [line for line in seen if line not in want]
    check(not missing and not extra, f"differs from runc: only runc {missing[:6]}, only husk {extra[:6]}")


def scen_same_as_runc(env, handler):
    same_as_runc(env, handler, "same", {}, None)


def scen_same_as_runc_restricted(env, handler):
    sc = api.LinuxContainerSecurityContext(
        run_as_user=api.Int64Value(value=1000), run_as_group=api.Int64Value(value=1000), supplemental_groups=[5],
        readonly_rootfs=True, no_new_privs=True,
        capabilities=api.Capability(drop_capabilities=["ALL"], add_capabilities=["NET_BIND_SERVICE"]),
        seccomp=api.SecurityProfile(profile_type=api.SecurityProfile.RuntimeDefault))
    same_as_runc(env, handler, "samer", {}, sc)


def scen_same_as_runc_privileged(env, handler):
    same_as_runc(env, handler, "samep", {"privileged": True}, api.LinuxContainerSecurityContext(privileged=True))


def scen_runtime_state(env, handler):
    """The runtime's `state` of a CRI container, as the shim reads it: the
    same fields as runc's, the shim's bundle, the container's pid."""
    with Pod(env, handler, "state") as pod:
        cid = new_container(env, pod, "c", LOOP)
        out = run_host(env.binaries[handler], "--root", os.path.join(env.t, f"rt-{handler}", NS), "state", cid)
        state = json.loads(out)
        bundle = os.path.join(env.t, "state", "io.containerd.runtime.v2.task", NS, cid)
        check(state["id"] == cid and state["status"] == "running", f"state {state}")
        check(state["pid"] == container_pid(env, cid), f"pid {state['pid']}")
        check(state["bundle"] == bundle and state["rootfs"] == os.path.join(bundle, "rootfs"), f"paths {state}")
        check(state["annotations"].get("io.kubernetes.cri.container-type") == "container", "annotations")
        shape = {k: type(v).__name__ for k, v in state.items()}
    if handler == "runc":
        env.fingerprints["state"] = shape
    elif "state" in env.fingerprints:
        want = env.fingerprints["state"]
        check(shape == want, f"state fields {shape}, runc's {want}")


def scen_nothing_left(env, handler):
    """After every scenario of this handler: no pod, no container, no
    runtime state, no shim, no mount of a container, no container cgroup."""
    pods = env.rt.ListPodSandbox(api.ListPodSandboxRequest(), timeout=30).items
    mine = [p.metadata.name for p in pods if p.runtime_handler == handler]
    check(not mine, f"pods left: {mine}")
    cs = env.rt.ListContainers(api.ListContainersRequest(), timeout=30).containers
    check(not cs, f"containers left: {[c.metadata.name for c in cs]}")
    rt_root = os.path.join(env.t, f"rt-{handler}", NS)
    left = os.listdir(rt_root) if os.path.isdir(rt_root) else []
    check(not left, f"runtime state left in {rt_root}: {left}")
    shims = env.shims()
    check(not shims, f"shims left: {shims}")
    tasks = os.path.join(env.t, "state", "io.containerd.runtime.v2.task", NS)
    check(not (os.path.isdir(tasks) and os.listdir(tasks)), f"task bundles left: {os.listdir(tasks)}")
    mounts = [m for m in env.mounts_under(env.t) if not m.startswith(os.path.join(env.t, "host"))]
    check(not mounts, f"mounts left: {mounts}")
    cgroups = []
    for h in env.hierarchies():
        for pod_dir in os.listdir(os.path.join(h, env.cgparent)):
            d = os.path.join(h, env.cgparent, pod_dir)
            if os.path.isdir(d):
                cgroups += [os.path.join(d, c) for c in os.listdir(d) if os.path.isdir(os.path.join(d, c))]
    check(not cgroups, f"cgroups left: {cgroups[:5]}")


SCENARIOS = [(name[len("scen_"):].replace("_", "-"), fn) for name, fn in list(globals().items())
             if name.startswith("scen_")]
