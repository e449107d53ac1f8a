#[path = "common/mod.rs"]
mod common;
use common::*;

// Malformed and hostile bundles and commands. Each must fail with one clear
// line on stderr that names the field or path at fault, exit non-zero, and
// leave nothing behind: no state directory, no mount, no process, no cgroup.
//
// Without `--log`, husk logs to stderr in logrus's text shape, as runc does:
// `time="…" level=error msg="…"`, the message quoted. The checks below read
// the message back out of that one line before matching on it.

use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

/// Asserts that husk failed with exactly one non-empty stderr line, an error,
/// whose message contains every one of `expected`; returns the message.
#[track_caller]
fn fails_with(out: &Output, expected: &[&str]) -> String {
    let stderr = text(&out.stderr);
    let code = out.status.code();
    assert!(
        code.is_some_and(|c| c != 0),
        "expected a non-zero exit, got {:?}; stderr: {stderr}",
        out.status
    );
    let line = stderr.strip_suffix('\n').unwrap_or(&stderr);
    assert!(!line.trim().is_empty(), "stderr is empty");
    assert!(!line.contains('\n'), "stderr is not one line:\n{stderr}");
    let message = if line.starts_with("time=") {
        assert!(line.contains(" level=error "), "not an error line: {line}");
        unquote_msg(line).unwrap_or_else(|| panic!("no msg=\"…\" in {line}"))
    } else {
        line.to_string()
    };
    for e in expected {
        assert!(message.contains(e), "error message lacks {e:?}:\n  {message}");
    }
    message
}

/// Nothing of container `id` is left: no state directory, no cgroup (the
/// bundle's Drop then checks mounts and processes).
#[track_caller]
fn assert_gone(bundle: &Bundle, id: &str) {
    assert!(!bundle.root.join(id).exists(), "state directory of {id} left behind");
    assert_no_cgroup(id);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(bundle.dir.to_string_lossy().as_ref()), "mount under the bundle left behind");
}

/// Writes the config, runs `husk create ID`, and checks it failed with
/// `expected` and left nothing behind. Returns the message.
#[track_caller]
fn create_fails(bundle: &mut Bundle, name: &str, expected: &[&str]) -> String {
    bundle.write();
    create_fails_as_is(bundle, name, expected)
}

/// As `create_fails`, without rewriting config.json.
#[track_caller]
fn create_fails_as_is(bundle: &mut Bundle, name: &str, expected: &[&str]) -> String {
    let id = bundle.id(name);
    let out = bundle.husk(&["create", &id]);
    let message = fails_with(&out, expected);
    assert_gone(bundle, &id);
    message
}

/// The index of the namespace of type `typ` in the default config.
fn ns_index(bundle: &Bundle, typ: &str) -> usize {
    bundle.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .position(|ns| ns["type"] == typ)
        .unwrap_or_else(|| panic!("no {typ} namespace in the default config"))
}

/// Appends a mount; returns its index.
fn add_mount(bundle: &mut Bundle, mount: Value) -> usize {
    let mounts = bundle.config["mounts"].as_array_mut().unwrap();
    mounts.push(mount);
    mounts.len() - 1
}

fn status(bundle: &Bundle, id: &str) -> String {
    bundle.state(id)["status"].as_str().unwrap().to_string()
}

/// A host path unique to this test process and `name`, known not to exist.
fn unique_host_dir(name: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("husk-hostile-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

// --- The configuration file itself ---------------------------------------

#[test]
fn broken_json_truncated_file() {
    let mut bundle = Bundle::new(&["true"]);
    bundle.write();
    let full = std::fs::read_to_string(bundle.dir.join("config.json")).unwrap();
    std::fs::write(bundle.dir.join("config.json"), &full[..full.len() / 2]).unwrap();
    create_fails_as_is(&mut bundle, "broken-json", &["config.json: invalid JSON at line ", "EOF while parsing"]);
}

#[test]
fn empty_config_file() {
    let mut bundle = Bundle::new(&["true"]);
    std::fs::write(bundle.dir.join("config.json"), "").unwrap();
    create_fails_as_is(
        &mut bundle,
        "empty-config",
        &["config.json: invalid JSON at line 1 column 0: EOF while parsing a value"],
    );
}

#[test]
fn config_file_missing() {
    let mut bundle = Bundle::new(&["true"]);
    std::fs::remove_file(bundle.dir.join("config.json")).unwrap();
    let path = bundle.dir.join("config.json");
    create_fails_as_is(
        &mut bundle,
        "no-config",
        &[&format!("{}: No such file or directory", path.display())],
    );
}

// --- process ---------------------------------------------------------------

#[test]
fn missing_process() {
    let mut bundle = Bundle::new(&["true"]);
    bundle.config.as_object_mut().unwrap().remove("process");
    create_fails(&mut bundle, "no-process", &["config.json: process: is required"]);
}

#[test]
fn missing_process_args() {
    let mut bundle = Bundle::new(&["true"]);
    bundle.config["process"].as_object_mut().unwrap().remove("args");
    create_fails(&mut bundle, "no-args", &["config.json: process.args: must name the program to run"]);
}

#[test]
fn empty_process_args() {
    let mut bundle = Bundle::new(&["true"]);
    bundle.config["process"]["args"] = json!([]);
    create_fails(&mut bundle, "empty-args", &["config.json: process.args: must name the program to run"]);
}

#[test]
fn relative_process_cwd() {
    let mut bundle = Bundle::new(&["true"]);
    bundle.config["process"]["cwd"] = "tmp".into();
    create_fails(&mut bundle, "relative-cwd", &["config.json: process.cwd: \"tmp\" is not an absolute path"]);
}

#[test]
fn rlimit_soft_above_hard() {
    let mut bundle = Bundle::new(&["true"]);
    bundle.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]);
    create_fails(&mut bundle, "rlimit-soft", &["config.json: process.rlimits[0]: soft limit is above the hard limit"]);
}

#[test]
fn unknown_rlimit_type() {
    let mut bundle = Bundle::new(&["true"]);
    bundle.config["process"]["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
        {"type": "RLIMIT_FOO", "soft": 1, "hard": 1}
    ]);
    create_fails(&mut bundle, "rlimit-type", &["config.json: process.rlimits[1].type: unknown value \"RLIMIT_FOO\""]);
}

/// A missing program is reported by `create`, not later by `start`, in the
/// words engines match ("no such file or directory" maps to exit 127).
#[test]
fn executable_not_found_fails_at_create() {
    let mut bundle = Bundle::new(&["/no/such/binary"]);
    create_fails(
        &mut bundle,
        "no-binary",
        &["exec: \"/no/such/binary\": stat /no/such/binary: no such file or directory"],
    );
}

#[test]
fn executable_not_in_path_fails_at_create() {
    let mut bundle = Bundle::new(&["nosuchcmd"]);
    create_fails(&mut bundle, "not-in-path", &["exec: \"nosuchcmd\": executable file not found in $PATH"]);
}

// --- root --------------------------------------------------------------------

#[test]
fn missing_rootfs_directory() {
    let mut bundle = Bundle::new(&["true"]);
    std::fs::remove_dir_all(bundle.rootfs()).unwrap();
    let rootfs = bundle.rootfs();
    create_fails_as_is(
        &mut bundle,
        "no-rootfs",
        &[&format!("config.json: root.path: rootfs {}: No such file or directory", rootfs.display())],
    );
}

#[test]
fn rootfs_is_a_file() {
    let mut bundle = Bundle::new(&["true"]);
    std::fs::remove_dir_all(bundle.rootfs()).unwrap();
    std::fs::write(bundle.rootfs(), "not a directory").unwrap();
    let rootfs = bundle.rootfs();
    create_fails_as_is(
        &mut bundle,
        "rootfs-file",
        &[&format!("config.json: root.path: {} is not a directory", rootfs.display())],
    );
    std::fs::remove_file(bundle.rootfs()).unwrap();
}

// --- namespaces ----------------------------------------------------------------

#[test]
fn unknown_namespace_type() {
    let mut bundle = Bundle::new(&["true"]);
    bundle.config["linux"]["namespaces"][2]["type"] = "netw".into();
    create_fails(&mut bundle, "ns-netw", &["config.json: linux.namespaces[2].type: unknown namespace \"netw\""]);
}

#[test]
fn duplicate_namespace() {
    let mut bundle = Bundle::new(&["true"]);
    let namespaces = bundle.config["linux"]["namespaces"].as_array_mut().unwrap();
    namespaces.push(json!({"type": "network"}));
    let index = namespaces.len() - 1;
    create_fails(
        &mut bundle,
        "ns-dup",
        &[&format!("config.json: linux.namespaces[{index}].type: duplicate namespace \"network\"")],
    );
}

#[test]
fn namespace_path_of_wrong_type() {
    let mut bundle = Bundle::new(&["true"]);
    let index = ns_index(&bundle, "network");
    bundle.config["linux"]["namespaces"][index]["path"] = "/proc/self/ns/uts".into();
    create_fails(
        &mut bundle,
        "ns-wrong",
        &[&format!(
            "config.json: linux.namespaces[{index}].path: /proc/self/ns/uts is not a network namespace"
        )],
    );
}

#[test]
fn namespace_path_that_does_not_exist() {
    let mut bundle = Bundle::new(&["true"]);
    let index = ns_index(&bundle, "ipc");
    bundle.config["linux"]["namespaces"][index]["path"] = "/proc/self/ns/no-such-ns".into();
    create_fails(
        &mut bundle,
        "ns-missing",
        &[&format!(
            "config.json: linux.namespaces[{index}].path: /proc/self/ns/no-such-ns: No such file or directory"
        )],
    );
}

#[test]
fn hostname_without_uts_namespace() {
    let mut bundle = Bundle::new(&["true"]);
    let index = ns_index(&bundle, "uts");
    bundle.config["linux"]["namespaces"].as_array_mut().unwrap().remove(index);
    bundle.config["hostname"] = "box".into();
    create_fails(&mut bundle, "no-uts", &["config.json: hostname: setting the hostname needs a new uts namespace"]);
}

#[test]
fn uid_mappings_without_user_namespace() {
    let mut bundle = Bundle::new(&["true"]);
    bundle.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    create_fails(
        &mut bundle,
        "maps-no-userns",
        &["config.json: linux.uidMappings: id mappings are only valid with a new user namespace"],
    );
}

#[test]
fn non_namespaced_sysctl() {
    let mut bundle = Bundle::new(&["true"]);
    bundle.config["linux"]["sysctl"] = json!({"kernel.panic": "1"});
    create_fails(
        &mut bundle,
        "sysctl-host",
        &["config.json: linux.sysctl.kernel.panic: is not namespaced: setting it would change the host"],
    );
}

// --- linux paths ---------------------------------------------------------------

// Relative maskedPaths and readonlyPaths are taken from the container's
// root, as runc takes them: integration/parity_setup.rs.

// --- mounts ----------------------------------------------------------------------

#[test]
fn bind_mount_without_source() {
    let mut bundle = Bundle::new(&["true"]);
    let index = add_mount(&mut bundle, json!({"destination": "/mnt", "type": "bind", "options": ["rbind"]}));
    create_fails(
        &mut bundle,
        "bind-no-source",
        &[&format!("config.json: mounts[{index}].source: a bind mount needs a source")],
    );
}

/// `rootfs/evil -> ../../../../../../../tmp/X` climbs out of the rootfs: a
/// mount on /evil is refused by name, and the host's /tmp/X is neither
/// created nor mounted on.
#[test]
fn mount_destination_symlink_leading_out_of_rootfs() {
    let host = unique_host_dir("evil");
    let host_name = host.file_name().unwrap().to_string_lossy().into_owned();
    let mut bundle = Bundle::new(&["true"]);
    let link = format!("../../../../../../..{}", host.display());
    std::os::unix::fs::symlink(&link, bundle.rootfs().join("evil")).unwrap();
    let index = add_mount(&mut bundle, json!({"destination": "/evil", "type": "tmpfs", "source": "tmpfs"}));
    create_fails(
        &mut bundle,
        "evil-link",
        &[&format!(
            "config.json: mounts[{index}].destination: /evil: symlink /evil -> {link} leads out of the rootfs"
        )],
    );
    assert!(!host.exists(), "{} was created on the host", host.display());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&host_name), "{} was mounted on", host.display());
    // Nor was anything made inside the rootfs in its stead.
    assert!(!bundle.rootfs().join(host.strip_prefix("/").unwrap()).exists());
}

/// An absolute symlink is the container's own path: `rootfs/abs -> /tmp/X`
/// puts the mount at the rootfs's /tmp/X, never at the host's.
#[test]
fn mount_destination_absolute_symlink_stays_in_rootfs() {
    let host = unique_host_dir("abs");
    let mut bundle = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/self/mountinfo; echo marker > /abs/file && cat /abs/file",
    ]);
    std::os::unix::fs::symlink(&host, bundle.rootfs().join("abs")).unwrap();
    add_mount(&mut bundle, json!({"destination": "/abs", "type": "tmpfs", "source": "tmpfs"}));
    bundle.write();
    let stdout = bundle.run_ok("abs-link");
    let inside = host.display().to_string();
    assert!(
        stdout.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 4 && f[4] == inside && l.contains(" - tmpfs ")
        }),
        "no tmpfs on {inside} inside the container:\n{stdout}"
    );
    assert!(stdout.ends_with("marker\n"), "{stdout}");
    assert!(!host.exists(), "{} was created on the host", host.display());
    // The mount point was made inside the rootfs, and is empty again.
    let made = bundle.rootfs().join(host.strip_prefix("/").unwrap());
    assert!(made.is_dir(), "{} was not made inside the rootfs", made.display());
    assert!(!made.join("file").exists(), "the tmpfs wrote into the rootfs");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&inside), "{inside} is mounted on the host");
}

// --- container ids -------------------------------------------------------------

#[test]
fn duplicate_container_id() {
    let mut bundle = Bundle::new(&["sleep", "30"]);
    let id = bundle.id("dup");
    let out = bundle.husk(&["create", &id]);
    assert!(out.status.success(), "first create: {}", text(&out.stderr));
    let out = bundle.husk(&["create", &id]);
    fails_with(&out, &[&format!("container with id exists: {id}")]);
    // The first container is untouched and still works.
    assert!(bundle.root.join(&id).join("state.json").exists());
    assert_eq!(status(&bundle, &id), "created");
    let out = bundle.husk(&["start", &id]);
    assert!(out.status.success(), "start: {}", text(&out.stderr));
    assert_eq!(status(&bundle, &id), "running");
    let out = bundle.husk(&["delete", "--force", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert_gone(&bundle, &id);
}

#[test]
fn container_id_with_slash() {
    let bundle = Bundle::new(&["true"]);
    let out = bundle.husk(&["create", "nested/id"]);
    fails_with(&out, &["invalid container id format: \"nested/id\""]);
    assert!(!bundle.root.join("nested").exists(), "a directory was made for the id");
    let out = bundle.husk(&["create", "../escape"]);
    fails_with(&out, &["invalid container id format: \"../escape\""]);
    assert!(!bundle.dir.join("escape").exists(), "the id reached outside --root");
}

#[test]
fn container_id_dot_dot() {
    let bundle = Bundle::new(&["true"]);
    let out = bundle.husk(&["create", ".."]);
    fails_with(&out, &["invalid container id format: \"..\""]);
    // `--root/..` is the bundle directory: nothing was written there.
    assert!(!bundle.dir.join("state.json").exists());
    assert!(!bundle.dir.join("exec.fifo").exists());
    assert!(bundle.dir.join("config.json").exists());
    let out = bundle.husk(&["delete", "--force", ".."]);
    fails_with(&out, &["invalid container id format: \"..\""]);
    assert!(bundle.rootfs().join("bin/busybox").exists(), "delete .. removed the bundle");
}

// --- kill, delete, start ---------------------------------------------------------

#[test]
fn kill_with_unknown_signal() {
    let mut bundle = Bundle::new(&["sleep", "30"]);
    let id = bundle.id("bad-signal");
    let out = bundle.husk(&["create", &id]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let out = bundle.husk(&["kill", &id, "SIGFOO"]);
    fails_with(&out, &["invalid signal: \"SIGFOO\""]);
    let out = bundle.husk(&["kill", &id, "65"]);
    fails_with(&out, &["invalid signal: \"65\""]);
    assert_eq!(status(&bundle, &id), "created", "the container did not survive");
    let out = bundle.husk(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert_gone(&bundle, &id);
}

#[test]
fn kill_nonexistent_container() {
    let mut bundle = Bundle::new(&["true"]);
    let id = bundle.id("ghost");
    let out = bundle.husk(&["kill", &id, "KILL"]);
    fails_with(&out, &[&format!("container \"{id}\" does not exist")]);
    assert_gone(&bundle, &id);
}

#[test]
fn delete_nonexistent_container() {
    let mut bundle = Bundle::new(&["true"]);
    let id = bundle.id("ghost");
    let out = bundle.husk(&["delete", &id]);
    fails_with(&out, &[&format!("container \"{id}\" does not exist")]);
    assert_gone(&bundle, &id);
}

#[test]
fn start_nonexistent_container() {
    let mut bundle = Bundle::new(&["true"]);
    let id = bundle.id("ghost");
    let out = bundle.husk(&["start", &id]);
    fails_with(&out, &[&format!("container \"{id}\" does not exist")]);
    assert_gone(&bundle, &id);
}

#[test]
fn delete_force_of_nonexistent_container_succeeds() {
    let mut bundle = Bundle::new(&["true"]);
    let id = bundle.id("ghost");
    let out = bundle.husk(&["delete", "--force", &id]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    assert_gone(&bundle, &id);
}

#[test]
fn kill_stopped_container() {
    let mut bundle = Bundle::new(&["true"]);
    let id = bundle.id("stopped");
    let out = bundle.husk(&["run", "-d", &id]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    wait_until("the container to stop", || status(&bundle, &id) == "stopped");
    let out = bundle.husk(&["kill", &id, "KILL"]);
    fails_with(&out, &["container not running"]);
    assert_eq!(status(&bundle, &id), "stopped");
    let out = bundle.husk(&["delete", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert_gone(&bundle, &id);
}

// --- --log ---------------------------------------------------------------------

/// RFC 3339: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if b.len() < 20
        || !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10))
        || !matches!(b[10], b'T' | b't')
        || !(digits(11..13) && b[13] == b':' && digits(14..16) && b[16] == b':' && digits(17..19))
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let frac = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == frac {
            return false;
        }
    }
    match &s[i..] {
        "Z" | "z" => true,
        zone => zone.len() == 6 && matches!(&zone[..1], "+" | "-") && digits(i + 1..i + 3) && b[i + 3] == b':' && digits(i + 4..i + 6),
    }
}

#[test]
fn log_file_in_json_records_the_error() {
    let mut bundle = Bundle::new(&["true"]);
    let id = bundle.id("ghost");
    let log = bundle.dir.join("husk.log");
    std::fs::write(&log, "{\"level\":\"info\",\"msg\":\"earlier\",\"time\":\"2026-01-01T00:00:00Z\"}\n").unwrap();
    let log_arg = log.to_str().unwrap();
    let out = bundle.husk(&["--log", log_arg, "--log-format", "json", "delete", &id]);
    // stderr still gets the plain message, as with runc.
    fails_with(&out, &[&format!("container \"{id}\" does not exist")]);
    let content = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = content.lines().collect();
    assert_eq!(lines.len(), 2, "one line appended to the log:\n{content}");
    assert!(lines[0].contains("earlier"), "the log was not appended to:\n{content}");
    let entry: Value = serde_json::from_str(lines[1]).unwrap_or_else(|e| panic!("not JSON ({e}): {}", lines[1]));
    assert_eq!(entry["level"], "error", "{entry}");
    let msg = entry["msg"].as_str().expect("msg is a string");
    assert!(msg.contains("does not exist") && msg.contains(&id), "{msg}");
    let time = entry["time"].as_str().expect("time is a string");
    assert!(is_rfc3339(time), "time {time:?} is not RFC 3339");
    assert_gone(&bundle, &id);
}

#[test]
fn rfc3339_checker() {
    assert!(is_rfc3339("2026-11-22T14:06:54Z"));
    assert!(is_rfc3339("2026-11-22T14:06:54.123456789Z"));
    assert!(is_rfc3339("2026-11-22T14:06:54+01:00"));
    assert!(!is_rfc3339("2026-11-22 14:06:54"));
    assert!(!is_rfc3339("2026-11-22T14:06:54"));
    assert!(!is_rfc3339("2026-11-22T14:06:54."));
}

#[test]
fn a_long_value_is_cut_in_the_error() {
    let mut bundle = Bundle::new(&["true"]);
    let long = "n".repeat(5000);
    bundle.config["linux"]["namespaces"][0]["type"] = long.as_str().into();
    let message = create_fails(&mut bundle, "long-value", &["config.json: linux.namespaces[0].type: unknown namespace \"nnnn", "(5000 characters)"]);
    assert!(message.len() < 400, "the error quotes the value whole: {} bytes", message.len());
}

// --- The systemd cgroup driver on a host without systemd ------------------

/// This machine has no systemd and no system bus: `--systemd-cgroup run`
/// fails at once, naming the bus socket, and leaves nothing. The
/// DBUS_SYSTEM_BUS_ADDRESS points at a path of the test's own, so that the
/// test means the same on a host that does run a bus.
#[test]
fn systemd_cgroup_without_a_bus_names_the_socket() {
    let mut bundle = Bundle::new(&["true"]);
    let id = bundle.id("sd-nobus");
    let socket = bundle.dir.join("no-bus-here");
    let address = format!("unix:path={}", socket.display());
    let out = bundle.husk_env(&[("DBUS_SYSTEM_BUS_ADDRESS", &address)], &["--systemd-cgroup", "run", &id]);
    let message = fails_with(&out, &["systemd: bus", "not reachable"]);
    assert_eq!(message, format!("systemd: bus {} not reachable: No such file or directory", socket.display()));
    assert_gone(&bundle, &id);
    // The default address, as runc's: the system bus socket.
    if !Path::new("/run/dbus/system_bus_socket").exists() {
        let id = bundle.id("sd-default");
        let out = bundle.husk(&["--systemd-cgroup", "run", &id]);
        fails_with(&out, &["systemd: bus /run/dbus/system_bus_socket not reachable"]);
        assert_gone(&bundle, &id);
    }
}

/// Malformed `slice:prefix:name` paths are refused before the bus is
/// reached, naming the field.
#[test]
fn malformed_systemd_cgroups_paths_name_the_field() {
    for (path, expected) in [
        ("system.slice:husk", "of format \"slice:prefix:name\""),
        ("system.slice:husk:", "the name (after the second ':') is empty"),
        ("system.slice:husk:a/b", "the name \"a/b\" contains a '/'"),
        ("system:husk:x", "invalid slice name \"system\""),
    ] {
        let mut bundle = Bundle::new(&["true"]);
        bundle.config["linux"]["cgroupsPath"] = path.into();
        bundle.write();
        let id = bundle.id("sd-path");
        let out = bundle.husk(&["--systemd-cgroup", "create", &id]);
        fails_with(&out, &["config.json: linux.cgroupsPath: ", expected]);
        assert_gone(&bundle, &id);
    }
}

/// A slice path given to the cgroupfs driver is refused rather than made
/// into a directory with colons in its name.
#[test]
fn a_slice_path_without_the_systemd_driver_is_refused() {
    let mut bundle = Bundle::new(&["true"]);
    bundle.config["linux"]["cgroupsPath"] = "system.slice:husk:x".into();
    create_fails(&mut bundle, "sd-cgroupfs", &["config.json: linux.cgroupsPath: ", "--systemd-cgroup"]);
}

/// `linux.intelRdt` where no resctrl file system is mounted (this host: no
/// RDT in its CPU): the spec's error, before anything is made. `features`
/// lists it, since it is whether the runtime supports it, not the host.
#[test]
fn intel_rdt_without_resctrl() {
    let mut bundle = Bundle::new(&["true"]);
    let features: Value = serde_json::from_slice(&bundle.husk(&["features"]).stdout).unwrap();
    assert_eq!(features["linux"]["intelRdt"], json!({"enabled": true, "schemata": true, "monitoring": true}));
    bundle.config["linux"]["intelRdt"] = json!({"closID": "husk-test", "l3CacheSchema": "L3:0=f"});
    create_fails(&mut bundle, "rdt", &["config.json: linux.intelRdt: no resctrl file system is mounted"]);
    bundle.config["linux"]["intelRdt"] = json!({"memBwSchema": "L3:0=f"});
    create_fails(&mut bundle, "rdt-mb", &["config.json: linux.intelRdt.memBwSchema: \"L3:0=f\" does not start with \"MB:\""]);
}
