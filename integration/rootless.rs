#[path = "common/mod.rs"]
mod common;
use common::mountinfo::normalise_mounts;
use common::*;

// Rootless husk: everything here runs as an unprivileged user (made by
// integration/engines/rootless-user.sh, with subordinate id ranges, if it is
// missing), from bundles that
// `husk spec --rootless` wrote and the user owns, with the state under the
// user's own $XDG_RUNTIME_DIR (a directory per test).
//
// The differential tests run each configuration under Debian's runc first
// (the oracle: it must pass the scenario), then under husk, as that user,
// on the same bundle (with the rootfs put back as it was in between), and
// compare what the container sees: its ids, its
// hostname, its id maps and setgroups, and its mount list (normalised as
// in differential.rs).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use serde_json::{Value, json};

const RUNC: &str = "/usr/sbin/runc";
const USER: &str = "husk-rootless";

/// The test user: its ids and its first subordinate ranges.
struct TestUser {
    uid: u32,
    gid: u32,
    subuid: (u32, u32),
    subgid: (u32, u32),
}

/// The user, made if missing by integration/engines/rootless-user.sh (which
/// the rootless podman scenarios use too).
fn user() -> &'static TestUser {
    static USER_MADE: OnceLock<TestUser> = OnceLock::new();
    USER_MADE.get_or_init(|| {
        let out = Command::new(repo().join("integration/engines/rootless-user.sh")).output().expect("run rootless-user.sh");
        assert!(out.status.success(), "rootless-user.sh: {}", text(&out.stderr));
        let fields: Vec<String> = text(&out.stdout).split_whitespace().map(String::from).collect();
        assert_eq!(fields.len(), 7, "rootless-user.sh printed {fields:?}");
        assert_eq!(fields[0], USER);
        let n = |i: usize| fields[i].parse().unwrap();
        TestUser { uid: n(1), gid: n(2), subuid: (n(3), n(4)), subgid: (n(5), n(6)) }
    })
}

/// A bundle the test user owns, with its own runtime directory.
struct UserBundle {
    dir: PathBuf,
    config: Value,
    ids: Vec<(&'static str, String)>,
}

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl UserBundle {
    fn new() -> UserBundle {
        let user = user();
        let template = Bundle::new(&[]);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("husk-rootless-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("xdg")).unwrap();
        let status = Command::new("cp").arg("-a").arg(template.rootfs()).arg(dir.join("rootfs")).status().unwrap();
        assert!(status.success());
        drop(template);
        // Kept aside: each runtime gets a pristine rootfs (see `differential`).
        let status = Command::new("cp").arg("-a").arg(dir.join("rootfs")).arg(dir.join("rootfs.pristine")).status().unwrap();
        assert!(status.success());
        chown_tree(&dir, user.uid, user.gid);
        std::fs::set_permissions(dir.join("xdg"), std::fs::Permissions::from_mode(0o700)).unwrap();
        let bundle = UserBundle { dir, config: Value::Null, ids: Vec::new() };
        let out = bundle.as_user(HUSK, &["spec", "--rootless"]);
        assert!(out.status.success(), "husk spec --rootless: {}", text(&out.stderr));
        let mut bundle = bundle;
        bundle.config = serde_json::from_slice(&std::fs::read(bundle.dir.join("config.json")).unwrap()).unwrap();
        bundle.config["process"]["terminal"] = false.into();
        bundle
    }

    /// Puts the pristine rootfs back at the same path: mount targets one
    /// runtime made must not help the other.
    fn reset_rootfs(&self) {
        let rootfs = self.dir.join("rootfs");
        let status = Command::new("rm").arg("-rf").arg("--one-file-system").arg(&rootfs).status().unwrap();
        assert!(status.success());
        let status = Command::new("cp").arg("-a").arg(self.dir.join("rootfs.pristine")).arg(&rootfs).status().unwrap();
        assert!(status.success());
    }

    fn xdg(&self) -> PathBuf {
        self.dir.join("xdg")
    }

    fn write(&self) {
        let path = self.dir.join("config.json");
        std::fs::write(&path, serde_json::to_string_pretty(&self.config).unwrap()).unwrap();
    }

    fn id(&mut self, runtime: &'static str, name: &str) -> String {
        let id = format!("{name}-{}", self.dir.file_name().unwrap().to_string_lossy());
        self.ids.push((runtime, id.clone()));
        id
    }

    /// `program ARGS` as the test user, in the bundle, with only the
    /// environment a user's session would give it.
    fn user_cmd(&self, program: &str, args: &[&str]) -> Command {
        let user = user();
        let mut cmd = Command::new("/usr/bin/setpriv");
        cmd.args(["--reuid", &user.uid.to_string(), "--regid", &user.gid.to_string(), "--init-groups", "--"])
            .arg(program)
            .args(args)
            .current_dir(&self.dir)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", format!("/home/{USER}"))
            .env("USER", USER)
            .env("XDG_RUNTIME_DIR", self.xdg())
            .stdin(Stdio::null());
        cmd
    }

    fn as_user(&self, program: &str, args: &[&str]) -> Output {
        output_via_files(self.user_cmd(program, args), &self.dir)
    }

    fn husk(&self, args: &[&str]) -> Output {
        self.as_user(HUSK, args)
    }

    fn runc(&self, args: &[&str]) -> Output {
        self.as_user(RUNC, args)
    }

    /// Asserts nothing of the bundle's containers is left: no state under
    /// the runtime directory, no mount, no process.
    fn assert_clean(&self) {
        for dir in ["husk", "runc"] {
            let root = self.xdg().join(dir);
            let left: Vec<_> = std::fs::read_dir(&root).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
            assert!(left.is_empty(), "left in {}: {left:?}", root.display());
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(self.dir.to_string_lossy().as_ref()), "mount under {} left behind", self.dir.display());
        let procs = processes_rooted_in(&self.dir);
        assert!(procs.is_empty(), "processes left behind: {procs:?}");
    }
}

impl Drop for UserBundle {
    fn drop(&mut self) {
        for (runtime, id) in std::mem::take(&mut self.ids) {
            let program = if runtime == "runc" { RUNC } else { HUSK };
            let _ = self.as_user(program, &["delete", "--force", &id]);
        }
        if !std::thread::panicking() {
            self.assert_clean();
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        if !mounts.contains(self.dir.to_string_lossy().as_ref()) {
            let _ = Command::new("rm").arg("-rf").arg("--one-file-system").arg(&self.dir).status();
        }
    }
}

fn chown_tree(dir: &Path, uid: u32, gid: u32) {
    let status = Command::new("chown").arg("-R").arg(format!("{uid}:{gid}")).arg(dir).status().unwrap();
    assert!(status.success());
}

/// Runs `cmd` with its output in files (a container keeps the runtime's
/// stdout open; a pipe would not reach EOF while it lives).
fn output_via_files(mut cmd: Command, dir: &Path) -> Output {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let (out, err) = (dir.join(format!(".out-{n}")), dir.join(format!(".err-{n}")));
    let status = cmd
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .status()
        .expect("run as the test user (setpriv, from util-linux)");
    let output = Output { status, stdout: std::fs::read(&out).unwrap_or_default(), stderr: std::fs::read(&err).unwrap_or_default() };
    let _ = std::fs::remove_file(out);
    let _ = std::fs::remove_file(err);
    output
}

/// What the container shows of itself, section by section.
const PROBE: &str = "echo @ids; id; echo @hostname; hostname; \
    echo @maps; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; \
    echo @mounts; cat /proc/self/mountinfo";

fn sections(stdout: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for line in stdout.lines() {
        match line.strip_prefix('@') {
            Some(name) => out.push((name.to_string(), Vec::new())),
            None => match out.last_mut() {
                Some((_, lines)) => lines.push(line.to_string()),
                None => out.push(("(before)".into(), vec![line.to_string()])),
            },
        }
    }
    for (name, lines) in &mut out {
        if name == "mounts" {
            *lines = normalise_mounts(lines);
        } else if name == "maps" {
            // Column widths are the kernel's; the numbers are compared.
            *lines = lines.iter().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
        }
    }
    out
}

/// Runs the probe under runc, then husk, as the user; both must succeed
/// and show the same. Returns husk's sections.
fn differential(context: &str, edit: impl FnOnce(&mut UserBundle)) -> Vec<(String, Vec<String>)> {
    let mut bundle = UserBundle::new();
    bundle.config["process"]["args"] = json!(["sh", "-c", PROBE]);
    edit(&mut bundle);
    bundle.write();
    let runc_id = bundle.id("runc", "runc");
    let runc = bundle.runc(&["run", &runc_id]);
    assert!(runc.status.success(), "{context}: runc run (the oracle) failed: {}", text(&runc.stderr));
    bundle.reset_rootfs();
    let husk_id = bundle.id("husk", "husk");
    let husk = bundle.husk(&["run", &husk_id]);
    assert!(husk.status.success(), "{context}: husk run failed: {}\nstdout: {}", text(&husk.stderr), text(&husk.stdout));
    let (h, r) = (sections(&text(&husk.stdout)), sections(&text(&runc.stdout)));
    for ((name, hs), (_, rs)) in h.iter().zip(&r) {
        assert_eq!(hs, rs, "{context}: section {name} differs\n--- husk:\n{}\n--- runc:\n{}", hs.join("\n"), rs.join("\n"));
    }
    assert_eq!(h.len(), r.len(), "{context}: sections {h:?} vs {r:?}");
    h
}

fn section<'a>(sections: &'a [(String, Vec<String>)], name: &str) -> &'a [String] {
    &sections.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no section {name}")).1
}

/// The user is root in the container, the hostname is set, and the maps
/// are the config's.
fn assert_mapped_root(s: &[(String, Vec<String>)], uid_map: &[String]) {
    assert!(section(s, "ids")[0].starts_with("uid=0(root) gid=0(root)"), "{:?}", section(s, "ids"));
    assert_eq!(section(s, "hostname"), ["husk"]);
    assert_eq!(&section(s, "maps")[..uid_map.len()], uid_map);
}

#[test]
fn single_mapping_of_the_users_own_id() {
    let u = user();
    let s = differential("single mapping", |b| b.config["root"]["readonly"] = false.into());
    assert_mapped_root(&s, &[format!("0 {} 1", u.uid)]);
    // Written by husk itself: setgroups denied first, as the kernel requires.
    assert_eq!(section(&s, "maps").last().unwrap(), "deny");
}

#[test]
fn subordinate_ranges_through_newuidmap() {
    let u = user();
    let s = differential("newuidmap ranges", |b| {
        b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": u.uid, "size": 1}, {"containerID": 1, "hostID": u.subuid.0, "size": u.subuid.1}]);
        b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": u.gid, "size": 1}, {"containerID": 1, "hostID": u.subgid.0, "size": u.subgid.1}]);
    });
    assert_mapped_root(&s, &[format!("0 {} 1", u.uid), format!("1 {} {}", u.subuid.0, u.subuid.1)]);
    // newgidmap leaves setgroups allowed.
    assert_eq!(section(&s, "maps").last().unwrap(), "allow");
}

#[test]
fn read_only_root() {
    let s = differential("read-only root", |b| b.config["root"]["readonly"] = true.into());
    assert!(normalise_mounts_root_is_ro(&s), "{:?}", section(&s, "mounts"));
}

fn normalise_mounts_root_is_ro(s: &[(String, Vec<String>)]) -> bool {
    section(s, "mounts").iter().any(|m| m.starts_with("/ ") && m.contains(" opts=ro"))
}

#[test]
fn an_extra_tmpfs() {
    let s = differential("extra tmpfs", |b| {
        let mounts = b.config["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "size=1m"]}));
    });
    assert!(section(&s, "mounts").iter().any(|m| m.starts_with("/scratch ") && m.contains("type=tmpfs")));
}

#[test]
fn a_bind_mount_of_the_users_directory() {
    let u = user();
    let s = differential("bind mount", |b| {
        let shared = b.dir.join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::write(shared.join("hello"), "from the host\n").unwrap();
        chown_tree(&shared, u.uid, u.gid);
        let mounts = b.config["mounts"].as_array_mut().unwrap();
        mounts.push(json!({"destination": "/shared", "type": "bind", "source": shared, "options": ["rbind", "ro"]}));
        b.config["process"]["args"] = json!(["sh", "-c", format!("{PROBE}; echo @file; cat /shared/hello")]);
    });
    assert_eq!(section(&s, "file"), ["from the host"]);
}

#[test]
fn a_network_namespace_of_its_own() {
    let s = differential("network namespace", |b| {
        b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "network"}));
        // With its own network namespace, sysfs is mounted fresh, not bound.
        for m in b.config["mounts"].as_array_mut().unwrap() {
            if m["destination"] == "/sys" {
                *m = json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]});
            }
        }
        b.config["process"]["args"] = json!(["sh", "-c", format!("{PROBE}; echo @links; ls /sys/class/net")]);
    });
    assert_eq!(section(&s, "links"), ["lo"]);
    assert!(section(&s, "mounts").iter().any(|m| m.starts_with("/sys ") && m.contains("type=sysfs")));
}

#[test]
fn sysfs_without_a_network_namespace_is_bound() {
    // sysfs may be mounted only by the owner of the network namespace. In
    // the host's, runc 1.2 and later bind the host's /sys instead (runc
    // 1.1.5 fails: EPERM), and so does husk; so husk alone runs here.
    let mut b = UserBundle::new();
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/sys" {
            *m = json!({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]});
        }
    }
    b.config["process"]["args"] = json!(["sh", "-c", PROBE]);
    b.write();
    let id = b.id("husk", "sysfs");
    let out = b.husk(&["run", &id]);
    assert!(out.status.success(), "husk run: {}", text(&out.stderr));
    let s = sections(&text(&out.stdout));
    let sys = section(&s, "mounts").iter().find(|m| m.starts_with("/sys ")).cloned().unwrap_or_default();
    assert!(sys.contains("type=sysfs") && sys.contains("opts=ro,"), "{sys}");
}

/// The verbs a rootless engine uses, as the user: create, state, exec,
/// ps, kill, delete; pause needs a cgroup, which the user does not have
/// here, and says so. Nothing is left under $XDG_RUNTIME_DIR/husk.
#[test]
fn the_verbs_as_the_user() {
    let mut b = UserBundle::new();
    b.config["process"]["args"] = json!(["sleep", "1000"]);
    b.write();
    let id = b.id("husk", "verbs");
    let out = b.husk(&["run", "-d", &id]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    // The default root is the user's $XDG_RUNTIME_DIR/husk, sticky, 0700.
    let root = b.xdg().join("husk");
    let mode = std::fs::metadata(&root).unwrap().permissions().mode();
    assert_eq!(mode & 0o7777, 0o1700, "mode of {}", root.display());
    let state: Value = serde_json::from_slice(&b.husk(&["state", &id]).stdout).unwrap();
    assert_eq!(state["status"], "running");
    let out = b.husk(&["exec", &id, "sh", "-c", "id -u; hostname"]);
    assert!(out.status.success(), "exec: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "0\nhusk\n");
    let out = b.husk(&["ps", &id]);
    assert!(out.status.success() && text(&out.stdout).contains("sleep"), "ps: {} {}", text(&out.stdout), text(&out.stderr));
    // list shows the owner, as runc does.
    let out = b.husk(&["list"]);
    assert!(text(&out.stdout).lines().nth(1).is_some_and(|l| l.ends_with(USER)), "list: {}", text(&out.stdout));
    let out = b.husk(&["pause", &id]);
    assert!(!out.status.success(), "pause without a cgroup succeeded");
    assert!(text(&out.stderr).contains("cgroup"), "pause: {}", text(&out.stderr));
    let out = b.husk(&["kill", &id, "KILL"]);
    assert!(out.status.success(), "kill: {}", text(&out.stderr));
    wait_until("the container to stop", || {
        serde_json::from_slice::<Value>(&b.husk(&["state", &id]).stdout).is_ok_and(|s| s["status"] == "stopped")
    });
    let out = b.husk(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
}

// Bad input: one clear line, a non-zero exit, and nothing left.

fn refused(edit: impl FnOnce(&mut UserBundle), args: &[&str], env_path: Option<&str>) -> String {
    let mut b = UserBundle::new();
    b.config["process"]["args"] = json!(["true"]);
    edit(&mut b);
    b.write();
    let id = b.id("husk", "bad");
    let mut all = args.to_vec();
    all.extend(["run", id.as_str()]);
    let mut cmd = b.user_cmd(HUSK, &all);
    if let Some(path) = env_path {
        cmd.env("PATH", path);
    }
    let out = output_via_files(cmd, &b.dir);
    assert!(!out.status.success(), "husk {all:?} succeeded");
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "more than one line: {stderr}");
    b.assert_clean();
    stderr
}

#[test]
fn a_mapping_outside_the_users_subordinate_ids_is_named() {
    let u = user();
    let err = refused(
        |b| b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": u.uid, "size": 1}, {"containerID": 1, "hostID": 7, "size": 10}]),
        &[],
        None,
    );
    assert!(err.contains("config.json: linux.uidMappings[1]: host ids 7-16"), "{err}");
}

#[test]
fn ranges_without_newuidmap_say_the_tool_is_missing() {
    let u = user();
    let err = refused(
        |b| b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": u.gid, "size": 1}, {"containerID": 1, "hostID": u.subgid.0, "size": 10}]),
        &[],
        Some("/nonexistent"),
    );
    assert!(err.contains("config.json: linux.gidMappings: ") && err.contains("newgidmap"), "{err}");
}

#[test]
fn rootless_false_as_a_user_says_why() {
    let err = refused(|_| {}, &["--rootless", "false"], None);
    assert!(err.contains("--rootless false, but husk runs as uid"), "{err}");
}

#[test]
fn the_systemd_driver_rootless_needs_cgroup_v2() {
    // This host is hybrid: a user's systemd instance would manage no v1
    // hierarchy (the systemd VM's v2 boot runs the driver rootless).
    let err = refused(|_| {}, &["--systemd-cgroup"], None);
    assert!(err.contains("--systemd-cgroup rootless needs a cgroup v2 host"), "{err}");
}

#[test]
fn limits_without_a_cgroup_are_named() {
    let err = refused(|b| b.config["linux"]["resources"] = json!({"memory": {"limit": 67108864}}), &[], None);
    assert!(err.contains("config.json: linux.resources.memory: cannot be applied"), "{err}");
}

#[test]
fn a_bind_source_the_user_cannot_read() {
    let hidden = std::env::temp_dir().join(format!("husk-rootless-hidden-{}", std::process::id()));
    std::fs::create_dir_all(hidden.join("inside")).unwrap();
    std::fs::set_permissions(&hidden, std::fs::Permissions::from_mode(0o700)).unwrap();
    let source = hidden.join("inside");
    let err = refused(
        |b| {
            let mounts = b.config["mounts"].as_array_mut().unwrap();
            mounts.push(json!({"destination": "/hidden", "type": "bind", "source": source, "options": ["rbind"]}));
        },
        &[],
        None,
    );
    std::fs::remove_dir_all(&hidden).unwrap();
    assert!(err.contains(&source.display().to_string()) && err.contains("ermission denied"), "{err}");
}

/// CVE-2019-5736, rootless: a user's own, writable copy of husk runs the
/// container, and its created init must still not lead to a writable
/// binary. The strongest attacker there is, the host's root, takes an
/// O_PATH fd of the created init's /proc/PID/exe and, once the init has
/// exec'd the container's program (so no process executes husk and
/// ETXTBSY no longer holds), re-opens it for writing: refused, since the
/// user's husk re-executed itself from a read-only view of its binary,
/// made in a user namespace of its own.
#[test]
fn cve_2019_5736_rootless_husk_runs_from_a_read_only_view() {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let u = user();
    let mut b = UserBundle::new();
    b.config["process"]["args"] = json!(["sleep", "60"]);
    b.write();
    let copy = b.dir.join("husk-copy");
    std::fs::copy(HUSK, &copy).unwrap();
    std::os::unix::fs::chown(&copy, Some(u.uid), Some(u.gid)).unwrap();
    let copy_str = copy.to_str().unwrap();
    let id = b.id("husk", "exe");
    let out = output_via_files(b.user_cmd(copy_str, &["create", &id]), &b.dir);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let state: Value = serde_json::from_slice(&b.husk(&["state", &id]).stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    let exe = format!("/proc/{pid}/exe");
    let held = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_PATH).open(&exe).expect("open the init's exe O_PATH");
    let out = output_via_files(b.user_cmd(copy_str, &["start", &id]), &b.dir);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    wait_until("the init to exec sleep", || std::fs::read_link(&exe).is_ok_and(|e| e.ends_with("busybox")));
    let reopened = std::fs::OpenOptions::new().append(true).open(format!("/proc/self/fd/{}", held.as_raw_fd()));
    match reopened {
        Err(e) => assert_eq!(e.raw_os_error(), Some(libc::EROFS), "re-opening husk's binary: {e}"),
        Ok(_) => panic!("husk's binary was opened for writing through the created init's /proc/PID/exe"),
    }
    let out = b.husk(&["delete", "--force", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
}

/// Mounts a user's namespace inherits are locked as the kernel locks them:
/// a bind of a directory on a nosuid,nodev,noexec mount may be made
/// read-only, but never lose those flags (the kernel refuses, EPERM). husk
/// keeps them on the remount, as runc 1.2 does; runc 1.1.5 fails there.
/// The locked mount is a tmpfs in a private mount namespace of the test's,
/// gone with it.
#[test]
fn a_bind_of_a_locked_mount_keeps_its_flags() {
    let u = user();
    let mut b = UserBundle::new();
    let locked = b.dir.join("locked");
    std::fs::create_dir(&locked).unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/locked", "type": "bind", "source": locked, "options": ["rbind", "ro"]}));
    b.config["process"]["args"] = json!(["sh", "-c", "cat /locked/f; grep ' /locked ' /proc/self/mountinfo"]);
    b.write();
    let id = b.id("husk", "locked");
    let script = format!(
        "mount -t tmpfs -o nosuid,nodev,noexec tmpfs {dir} && echo inside > {dir}/f && chown -R {uid}:{gid} {dir} && \
         exec /usr/bin/setpriv --reuid {uid} --regid {gid} --init-groups env XDG_RUNTIME_DIR={xdg} {husk} run {id}",
        dir = locked.display(),
        uid = u.uid,
        gid = u.gid,
        xdg = b.xdg().display(),
        husk = HUSK,
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", &script]).current_dir(&b.dir).stdin(Stdio::null());
    let out = output_via_files(cmd, &b.dir);
    assert!(out.status.success(), "husk run: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("inside\n"), "{stdout}");
    let line = stdout.lines().nth(1).unwrap_or_default();
    let options = line.split(' ').nth(5).unwrap_or_default();
    for flag in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(options.split(',').any(|o| o == flag), "{flag} missing from {line}");
    }
}
