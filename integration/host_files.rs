//! husk never changes a file outside the container's rootfs: the owner,
//! mode and ctime of every host file a scenario hands husk — the host's
//! /dev/null and the other devices bound into a user namespace, the
//! targets of the stdio descriptors (a pty slave of the test's own, /dev/null,
//! a log file), the console socket's end, and each path the bundle names
//! (the bundle, its config and rootfs, bind sources) — are recorded before
//! and after each scenario (run, exec --user, terminals, a user namespace,
//! configured devices) and must not change. (runc's fixStdioPermissions
//! chowns stdio that is not /dev/null to the process's user; husk gives its
//! own pty slave to the user only, inside the container's devpts.)

#[path = "common/mod.rs"]
mod common;
use common::fd_socket::FdSocket;
use common::*;

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

/// Devices a user namespace gets bound from the host, and /dev/fuse, which
/// the scenarios configure (with another owner and mode) in linux.devices.
const HOST_DEVICES: &[&str] = &["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty", "/dev/fuse"];

/// Owner, mode and ctime of `path` (of the link itself for a symlink); a
/// directory's owner and mode.
fn record(path: &Path) -> String {
    match std::fs::symlink_metadata(path) {
        // A directory's ctime moves with its entries (the state directory
        // under the bundle, a mount target made in the rootfs).
        Ok(m) if m.is_dir() => format!("{} owner={}:{} mode={:o}", path.display(), m.uid(), m.gid(), m.mode()),
        Ok(m) => format!("{} owner={}:{} mode={:o} ctime={}.{}", path.display(), m.uid(), m.gid(), m.mode(), m.ctime(), m.ctime_nsec()),
        Err(e) => format!("{}: {e}", path.display()),
    }
}

/// What a scenario hands husk, and the host paths to watch.
struct Watched {
    /// Compared on owner, mode and ctime.
    paths: Vec<PathBuf>,
    /// stdout, a log file the container writes to: its ctime and size move
    /// with the container's output, so owner and mode only.
    log: PathBuf,
}

impl Watched {
    fn snapshot(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.paths.iter().map(|p| record(p)).collect();
        let m = std::fs::metadata(&self.log).unwrap();
        lines.push(format!("{} owner={}:{} mode={:o}", self.log.display(), m.uid(), m.gid(), m.mode()));
        lines
    }
}

/// A pty pair of the test's own: the slave is handed to husk as stderr.
fn host_pty() -> (OwnedFd, PathBuf, OwnedFd) {
    let pty = nix::pty::openpty(None, None).unwrap();
    let path = std::fs::read_link(format!("/proc/self/fd/{}", pty.slave.as_raw_fd())).unwrap();
    (pty.master, path, pty.slave)
}

/// A bundle with a bind mount of a host directory and file, and the
/// paths it names.
fn watched_bundle(args: &[&str]) -> (Bundle, Vec<PathBuf>) {
    let mut b = Bundle::new(args);
    let dir = b.dir.join("volume");
    std::fs::create_dir_all(&dir).unwrap();
    let file = b.dir.join("hostname");
    std::fs::write(&file, "watched\n").unwrap();
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(json!({"destination": "/mnt/volume", "type": "bind", "source": dir, "options": ["rbind"]}));
    mounts.push(json!({"destination": "/etc/hostname", "type": "bind", "source": file, "options": ["bind", "ro"]}));
    b.config["root"]["readonly"] = false.into();
    b.write();
    let rootfs = b.rootfs();
    // The targets exist: root of a user namespace may not make them in a
    // rootfs owned by the host's root.
    std::fs::create_dir_all(rootfs.join("mnt/volume")).unwrap();
    std::fs::write(rootfs.join("etc/hostname"), "image\n").unwrap();
    let paths = vec![b.dir.clone(), b.dir.join("config.json"), rootfs.clone(), rootfs.join("dev"), dir, file];
    (b, paths)
}

/// Runs husk with stdin /dev/null, stdout the log, stderr the pty slave.
fn husk_with_stdio(b: &Bundle, log: &Path, slave: &OwnedFd, args: &[&str]) -> (i32, String) {
    let stderr = slave.try_clone().unwrap();
    // husk's own errors go to a log file (stderr is the test's pty).
    let husk_log = b.dir.join("husk.log");
    let mut all = vec!["--log", husk_log.to_str().unwrap()];
    all.extend(args);
    let out = b
        .husk_cmd(&all)
        .stdin(Stdio::null())
        .stdout(std::fs::OpenOptions::new().append(true).open(log).unwrap())
        .stderr(Stdio::from(stderr))
        .status()
        .unwrap();
    let mut output = std::fs::read_to_string(log).unwrap_or_default();
    if !out.success() {
        output += &std::fs::read_to_string(&husk_log).unwrap_or_default();
    }
    (out.code().unwrap_or(-1), output)
}

/// One scenario: `steps` run against the bundle while everything is watched.
fn scenario(name: &str, mut configure: impl FnMut(&mut Bundle), steps: impl FnOnce(&mut Bundle, &Path, &OwnedFd, &FdSocket)) {
    let (mut b, mut paths) = watched_bundle(&["sleep", "100"]);
    configure(&mut b);
    b.write();
    let (_master, slave_path, slave) = host_pty();
    let log = b.dir.join("stdout.log");
    std::fs::write(&log, "").unwrap();
    let socket = FdSocket::new(&b.dir, "console", "console socket");
    paths.extend(HOST_DEVICES.iter().map(PathBuf::from).filter(|p| p.exists()));
    paths.push(slave_path);
    paths.push(PathBuf::from(socket.path()));
    let watched = Watched { paths, log: log.clone() };
    let before = watched.snapshot();
    // ctime has the clock's resolution: a change in the same tick as the
    // record would not show.
    std::thread::sleep(Duration::from_millis(20));
    steps(&mut b, &log, &slave, &socket);
    let after = watched.snapshot();
    let changed: Vec<String> = before.iter().zip(&after).filter(|(a, b)| a != b).map(|(a, b)| format!("{a}\n  -> {b}")).collect();
    assert!(changed.is_empty(), "{name}: husk changed host files:\n{}", changed.join("\n"));
}

fn must(what: &str, (code, log): (i32, String)) {
    assert_eq!(code, 0, "{what} failed; stdout: {log}");
}

fn map_user_namespace(b: &mut Bundle) {
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 300000, "size": 65536}]);
}

fn add_fuse(b: &mut Bundle) {
    b.config["linux"]["devices"] = json!([{
        "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666, "uid": 1000, "gid": 1000
    }]);
}

#[test]
fn host_files_unchanged_by_run_and_exec_as_a_user() {
    scenario("run, exec --user", |_| {}, |b, log, slave, _| {
        let id = b.id("plain");
        must("run -d", husk_with_stdio(b, log, slave, &["run", "-d", &id]));
        must("exec", husk_with_stdio(b, log, slave, &["exec", &id, "sh", "-c", "echo hi; echo err >&2; ls -l /proc/self/fd/"]));
        must("exec --user", husk_with_stdio(b, log, slave, &["exec", "--user", "1000:1000", &id, "sh", "-c", "id; echo err >&2"]));
        must("exec -p as user", {
            let process = json!({"args": ["id"], "env": ["PATH=/bin"], "cwd": "/", "user": {"uid": 1234, "gid": 1234, "additionalGids": [5]}});
            let path = b.dir.join("process.json");
            std::fs::write(&path, process.to_string()).unwrap();
            husk_with_stdio(b, log, slave, &["exec", "-p", path.to_str().unwrap(), &id])
        });
        must("delete", husk_with_stdio(b, log, slave, &["delete", "--force", &id]));
    });
}

#[test]
fn host_files_unchanged_by_terminals() {
    scenario(
        "terminals",
        |b| {
            b.config["process"]["terminal"] = true.into();
            b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        },
        |b, log, slave, socket| {
            let id = b.id("tty");
            must("create", husk_with_stdio(b, log, slave, &["create", "--console-socket", socket.path(), &id]));
            let (_, master) = socket.receive(Duration::ZERO);
            must("start", husk_with_stdio(b, log, slave, &["start", &id]));
            must(
                "exec -t --user",
                husk_with_stdio(b, log, slave, &["exec", "-d", "-t", "--user", "1234:1234", "--console-socket", socket.path(), &id, "sleep", "5"]),
            );
            let (_, exec_master) = socket.receive(Duration::from_secs(5));
            must("delete", husk_with_stdio(b, log, slave, &["delete", "--force", &id]));
            drop((master, exec_master));
        },
    );
}

#[test]
fn host_files_unchanged_by_a_user_namespace_with_devices() {
    // In a user namespace every device is bound from the host: /dev/null
    // and the default devices, and /dev/fuse with an owner and mode of its
    // own in the config, which must not be applied to the host's node.
    scenario(
        "user namespace, devices",
        |b| {
            map_user_namespace(b);
            add_fuse(b);
        },
        |b, log, slave, socket| {
            let id = b.id("userns");
            must("run -d", husk_with_stdio(b, log, slave, &["run", "-d", &id]));
            must("exec", husk_with_stdio(b, log, slave, &["exec", &id, "sh", "-c", "ls -ln /dev/fuse /dev/null; echo x > /dev/null"]));
            must("exec --user", husk_with_stdio(b, log, slave, &["exec", "--user", "1000:1000", &id, "sh", "-c", "id; echo x > /dev/null"]));
            must("exec -t", husk_with_stdio(b, log, slave, &["exec", "-d", "-t", "--console-socket", socket.path(), &id, "sleep", "5"]));
            let (_, master) = socket.receive(Duration::from_secs(5));
            must("delete", husk_with_stdio(b, log, slave, &["delete", "--force", &id]));
            drop(master);
        },
    );
    // The same devices without a user namespace are made (mknod) inside
    // the rootfs, with the config's owner and mode there.
    scenario("devices", add_fuse, |b, log, slave, _| {
        let id = b.id("devices");
        must("run -d", husk_with_stdio(b, log, slave, &["run", "-d", &id]));
        must("exec", husk_with_stdio(b, log, slave, &["exec", &id, "sh", "-c", "stat -c 'fuse %a %u:%g' /dev/fuse"]));
        let out = std::fs::read_to_string(log).unwrap();
        assert!(out.contains("fuse 666 1000:1000"), "the config's owner and mode, inside: {out}");
        must("delete", husk_with_stdio(b, log, slave, &["delete", "--force", &id]));
    });
}
