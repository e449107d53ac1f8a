#[path = "common/mod.rs"]
mod common;
use common::*;

// Differential tests: the same bundle run under runc (Debian's, at
// /usr/sbin/runc) and under husk must look the same from inside and from
// `state`. Each configuration is its own test; each runs
//
// 1. `run` under both runtimes with one probe command, comparing every
//    section of its output (hostname, domainname, capability lines,
//    uid/gid/groups, umask, rlimits, environment, cwd, mount list) and the
//    exit code;
// 2. `create` under both, comparing `state`, then `start`, waiting for
//    "stopped", comparing `state` and the probe output again, and `delete`.
//
// husk always goes first, so that it never profits from mount targets runc
// created in the shared rootfs.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

const RUNC: &str = "/usr/sbin/runc";

/// The sections the probe prints, in order; each begins with a line `@name`.
const SECTIONS: &[&str] = &[
    "hostname",
    "domainname",
    "capabilities",
    "uid",
    "gid",
    "groups",
    "umask",
    "limits",
    "environment",
    "cwd",
    "mounts",
];

/// The probe: prints every section, then exits with `exit`.
fn probe(exit: i32) -> Vec<String> {
    let script = format!(
        "echo @hostname; hostname\n\
         echo @domainname; cat /proc/sys/kernel/domainname\n\
         echo @capabilities; grep -E '^Cap(Inh|Prm|Eff|Bnd|Amb)|^NoNewPrivs' /proc/self/status\n\
         echo @uid; id -u\n\
         echo @gid; id -g\n\
         echo @groups; id -G\n\
         echo @umask; umask\n\
         echo @limits; cat /proc/self/limits\n\
         echo @environment; env | sort\n\
         echo @cwd; pwd\n\
         echo @mounts; cat /proc/self/mountinfo\n\
         exit {exit}\n"
    );
    vec!["sh".into(), "-c".into(), script]
}

/// The probe's output, split into its sections.
type Sections = BTreeMap<String, Vec<String>>;

fn parse_sections(stdout: &str) -> Sections {
    let mut sections = Sections::new();
    let mut current: Option<String> = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix('@').filter(|n| SECTIONS.contains(n)) {
            current = Some(name.to_string());
            sections.entry(name.to_string()).or_default();
        } else if let Some(name) = &current {
            sections.get_mut(name).unwrap().push(line.to_string());
        } else {
            sections.entry("(before any section)".into()).or_default().push(line.to_string());
        }
    }
    sections
}

/// One line of /proc/self/mountinfo, with what differs between two
/// otherwise identical mount namespaces taken out: the mount ids (the parent
/// is named by its mount point instead), the device numbers, and the peer
/// group numbers of the propagation tags (their kinds are kept).
///
/// For cgroup mounts the mount root and the super-block options are left
/// out too: runc places the container in a cgroup of its own (the root reads
/// `/<id>`) while husk does not create cgroups yet, so the container sits in
/// the caller's cgroup. Everything else — including the root of every other
/// mount, its source and its super-block options — is compared.
fn normalise_mounts(lines: &[String]) -> Vec<String> {
    let parsed: Vec<Vec<&str>> = lines.iter().map(|l| l.split(' ').collect()).collect();
    let point_of = |id: &str| parsed.iter().find(|f| f[0] == id).map(|f| f[4].to_string());
    parsed
        .iter()
        .map(|f| {
            let Some(dash) = f.iter().position(|x| *x == "-") else {
                return format!("unparsable mountinfo line: {}", f.join(" "));
            };
            let (point, options) = (f[4], f[5]);
            let parent = point_of(f[1]).unwrap_or_else(|| "(outside)".into());
            let tags: Vec<&str> = f[6..dash].iter().map(|t| t.split(':').next().unwrap_or(t)).collect();
            let (fstype, source, super_options) = (f[dash + 1], f[dash + 2], f.get(dash + 3).copied().unwrap_or(""));
            let cgroup = fstype == "cgroup" || fstype == "cgroup2";
            let root = if cgroup { "(cgroup root)" } else { f[3] };
            let super_options = if cgroup { "(cgroup options)" } else { super_options };
            format!(
                "{point} parent={parent} root={root} opts={options} tags=[{}] type={fstype} source={source} super={super_options}",
                tags.join(",")
            )
        })
        .collect()
}

/// Panics, showing both sides in full, if `husk` and `runc` differ.
fn assert_same(context: &str, what: &str, husk: &[String], runc: &[String]) {
    if husk == runc {
        return;
    }
    let first = husk.iter().zip(runc).position(|(h, r)| h != r).unwrap_or(husk.len().min(runc.len()));
    panic!(
        "{context}: {what} differs (first at line {first})\n--- husk:\n{}\n--- runc:\n{}\n",
        husk.join("\n"),
        runc.join("\n")
    );
}

/// Compares the probe's outputs section by section, after checking that the
/// probe ran to its end under both runtimes.
fn compare_probes(context: &str, case: Case, husk: &str, husk_err: &str, runc: &str, runc_err: &str) {
    let (h, r) = (parse_sections(husk), parse_sections(runc));
    for (who, sections, stdout, stderr) in [("husk", &h, husk, husk_err), ("runc", &r, runc, runc_err)] {
        let names: Vec<&str> = sections.keys().map(String::as_str).collect();
        let mut expected: Vec<&str> = SECTIONS.to_vec();
        expected.sort();
        assert_eq!(
            names, expected,
            "{context}: the probe did not run to its end under {who}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
    }
    for name in SECTIONS {
        let (hs, rs) = (&h[*name], &r[*name]);
        if let (true, Some(domainname)) = (*name == "domainname", case.domainname) {
            // The spec says the container sees `domainname`; husk must set
            // it. runc 1.1 ignores the field (its config conversion drops
            // it) and leaves the host's, which a new UTS namespace copies;
            // a runc that honours it must show the configured one.
            assert_eq!(hs, &[domainname], "{context}: husk's domainname");
            let host = std::fs::read_to_string("/proc/sys/kernel/domainname").unwrap();
            assert!(
                rs == &[domainname] || rs == &[host.trim_end()],
                "{context}: runc's domainname is {rs:?}, neither the configured {domainname:?} nor the host's {host:?}"
            );
        } else if *name == "mounts" {
            assert_same(context, "the mount list", &normalise_mounts(hs), &normalise_mounts(rs));
        } else {
            assert_same(context, &format!("section {name}"), hs, rs);
        }
    }
}

/// Deletes a runc container when dropped, so a failed assertion still
/// removes it (and the cgroups runc made for it) before the bundle goes.
struct RuncContainer {
    root: PathBuf,
    id: String,
}

impl RuncContainer {
    fn new(bundle: &mut Bundle, name: &str) -> RuncContainer {
        RuncContainer {
            root: bundle.dir.join("runc-state"),
            id: bundle.id(name),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(RUNC);
        cmd.arg("--root").arg(&self.root).args(args).stdin(Stdio::null());
        cmd
    }

    fn state(&self) -> Value {
        let out = self.cmd(&["state", &self.id]).output().expect("run runc state");
        assert!(out.status.success(), "runc state {}: {}", self.id, text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("runc state is JSON")
    }
}

impl Drop for RuncContainer {
    fn drop(&mut self) {
        let _ = self
            .cmd(&["delete", "--force", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `state` with what may differ taken out: the id, the times, and the pid
/// (only whether there is one is kept). ociVersion goes too: it is the spec
/// version the runtime implements — husk implements 1.3.0 while runc 1.1.5
/// reports 1.0.2-dev.
fn normalise_state(mut state: Value) -> Value {
    let object = state.as_object_mut().expect("state is an object");
    for key in ["id", "created", "ociVersion"] {
        assert!(object.remove(key).is_some(), "state lacks {key}: {object:?}");
    }
    let pid = object.remove("pid").and_then(|p| p.as_i64()).expect("state has a numeric pid");
    object.insert("has pid".into(), (pid > 0).into());
    state
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn output_file(dir: &Path, name: &str) -> File {
    File::create(dir.join(name)).unwrap()
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// What a configuration needs beyond its config.json.
#[derive(Default, Clone, Copy)]
struct Case {
    /// The probe's exit code.
    exit: i32,
    /// Give `--no-pivot` to `run` and `create` under both runtimes.
    no_pivot: bool,
    /// The config sets this domainname (see `compare_probes`).
    domainname: Option<&'static str>,
}

impl Case {
    fn args(self) -> Vec<&'static str> {
        if self.no_pivot { vec!["--no-pivot"] } else { vec![] }
    }
}

/// Compares `run` under both runtimes: the probe's output and the exit code.
fn compare_run(bundle: &mut Bundle, context: &str, case: Case) {
    let husk_id = bundle.id("husk-run");
    let mut args = vec!["run"];
    args.extend(case.args());
    args.push(&husk_id);
    let husk = bundle.husk(&args);

    let runc = RuncContainer::new(bundle, "runc-run");
    let out = runc
        .cmd(&["run"])
        .args(case.args())
        .arg("-b")
        .arg(&bundle.dir)
        .arg(&runc.id)
        .current_dir(&bundle.dir)
        .output()
        .expect("run runc");

    compare_probes(context, case, &text(&husk.stdout), &text(&husk.stderr), &text(&out.stdout), &text(&out.stderr));
    assert_eq!(code(&husk), case.exit, "{context}: husk's exit code; stderr: {}", text(&husk.stderr));
    assert_eq!(code(&out), case.exit, "{context}: runc's exit code; stderr: {}", text(&out.stderr));
}

/// Compares `state` under both runtimes through create, start and stop, and
/// the probe's output of the created-then-started containers.
fn compare_lifecycle(bundle: &mut Bundle, context: &str, case: Case) {
    let dir = bundle.dir.clone();
    let husk_id = bundle.id("husk-life");
    let mut args = vec!["create"];
    args.extend(case.args());
    args.push(&husk_id);
    // The container inherits create's stdio: to files, which `output()`
    // would otherwise wait on until the container ends.
    let status = bundle
        .husk_cmd(&args)
        .stdout(output_file(&dir, "husk-life.out"))
        .stderr(output_file(&dir, "husk-life.err"))
        .status()
        .unwrap();
    assert!(status.success(), "{context}: husk create: {}", read(&dir, "husk-life.err"));

    let runc = RuncContainer::new(bundle, "runc-life");
    let status = runc
        .cmd(&["create"])
        .args(case.args())
        .arg("-b")
        .arg(&dir)
        .arg(&runc.id)
        .current_dir(&dir)
        .stdout(output_file(&dir, "runc-life.out"))
        .stderr(output_file(&dir, "runc-life.err"))
        .status()
        .unwrap();
    assert!(status.success(), "{context}: runc create: {}", read(&dir, "runc-life.err"));

    let husk_state = normalise_state(bundle.state(&husk_id));
    assert_eq!(husk_state["status"], "created", "{context}: husk state after create");
    assert_eq!(husk_state, normalise_state(runc.state()), "{context}: state after create (husk, runc)");

    let out = bundle.husk(&["start", &husk_id]);
    assert!(out.status.success(), "{context}: husk start: {}", text(&out.stderr));
    let out = runc.cmd(&["start", &runc.id]).output().unwrap();
    assert!(out.status.success(), "{context}: runc start: {}", text(&out.stderr));

    wait_until("both containers to stop", || {
        bundle.state(&husk_id)["status"] == "stopped" && runc.state()["status"] == "stopped"
    });
    let husk_state = normalise_state(bundle.state(&husk_id));
    assert_eq!(husk_state, normalise_state(runc.state()), "{context}: state after stop (husk, runc)");

    compare_probes(
        &format!("{context} (create + start)"),
        case,
        &read(&dir, "husk-life.out"),
        &read(&dir, "husk-life.err"),
        &read(&dir, "runc-life.out"),
        &read(&dir, "runc-life.err"),
    );

    let out = bundle.husk(&["delete", &husk_id]);
    assert!(out.status.success(), "{context}: husk delete: {}", text(&out.stderr));
    let out = runc.cmd(&["delete", &runc.id]).output().unwrap();
    assert!(out.status.success(), "{context}: runc delete: {}", text(&out.stderr));
}

/// Runs one configuration: the default spec with the probe, edited by `edit`.
fn differential(context: &str, case: Case, edit: impl FnOnce(&mut Bundle)) {
    let mut bundle = Bundle::new(&[]);
    bundle.config["process"]["args"] = json!(probe(case.exit));
    edit(&mut bundle);
    bundle.write();
    compare_run(&mut bundle, context, case);
    compare_lifecycle(&mut bundle, context, case);
}

fn same(context: &str, edit: impl FnOnce(&mut Bundle)) {
    differential(context, Case::default(), edit)
}

const DEFAULT_CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

#[test]
fn default_spec() {
    same("default spec", |_| {});
}

#[test]
fn non_root_user_with_additional_groups() {
    same("uid 1000, gid 1000, groups 5 100", |b| {
        b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 100]});
    });
}

#[test]
fn writable_root() {
    same("root.readonly false", |b| {
        b.config["root"]["readonly"] = false.into();
    });
}

#[test]
fn extra_capabilities_in_every_set() {
    same("extra capabilities", |b| {
        let mut caps: Vec<&str> = DEFAULT_CAPS.to_vec();
        caps.extend(["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_CHOWN"]);
        b.config["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps
        });
    });
}

#[test]
fn capability_sets_differ() {
    // Each set its own: ambient only where permitted and inheritable allow.
    same("distinct capability sets", |b| {
        b.config["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID", "CAP_SYS_ADMIN"],
            "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": ["CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"],
            "ambient": ["CAP_KILL", "CAP_SETUID", "CAP_SYS_ADMIN"]
        });
    });
}

#[test]
fn empty_capabilities_object() {
    same("capabilities {}", |b| {
        b.config["process"]["capabilities"] = json!({});
    });
}

#[test]
fn no_capabilities_at_all() {
    same("no process.capabilities", |b| {
        b.config["process"].as_object_mut().unwrap().remove("capabilities");
    });
}

#[test]
fn new_privileges_allowed() {
    same("noNewPrivileges false", |b| {
        b.config["process"]["noNewPrivileges"] = false.into();
    });
}

#[test]
fn extra_tmpfs_and_readonly_bind() {
    same("tmpfs /mnt/scratch and ro bind /data", |b| {
        let host = b.dir.join("host-data");
        std::fs::create_dir(&host).unwrap();
        std::fs::write(host.join("file"), "data\n").unwrap();
        let mounts = b.config["mounts"].as_array_mut().unwrap();
        mounts.push(json!({
            "destination": "/mnt/scratch", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=700", "size=1m"]
        }));
        mounts.push(json!({
            "destination": "/data", "type": "bind", "source": host.to_str().unwrap(),
            "options": ["rbind", "ro"]
        }));
    });
}

#[test]
fn hostname_and_domainname() {
    let case = Case { domainname: Some("example.org"), ..Case::default() };
    differential("hostname and domainname", case, |b| {
        b.config["hostname"] = "differential-host".into();
        b.config["domainname"] = "example.org".into();
    });
}

#[test]
fn no_network_namespace() {
    same("no network namespace", |b| {
        let namespaces = b.config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "network");
    });
}

#[test]
fn custom_masked_and_readonly_paths() {
    same("custom maskedPaths and readonlyPaths", |b| {
        // Files, directories and paths that do not exist, in proc and not.
        b.config["linux"]["maskedPaths"] =
            json!(["/proc/cpuinfo", "/proc/acpi", "/etc/group", "/home/user", "/no/such/path"]);
        b.config["linux"]["readonlyPaths"] = json!(["/proc/sys", "/etc", "/tmp", "/no/such/dir"]);
    });
}

#[test]
fn exit_code() {
    differential("exit 7", Case { exit: 7, ..Case::default() }, |_| {});
}

#[test]
fn rlimits() {
    // At or below this host's hard limits: it lacks CAP_SYS_RESOURCE.
    same("rlimits", |b| {
        b.config["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
            {"type": "RLIMIT_NPROC", "soft": 200, "hard": 300}
        ]);
    });
}

#[test]
fn user_namespace() {
    same("user namespace 0 -> 100000 (65536)", |b| {
        b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
}

#[test]
fn cgroup_namespace() {
    same("cgroup namespace", |b| {
        b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "cgroup"}));
    });
}

#[test]
fn no_pivot() {
    differential("--no-pivot", Case { no_pivot: true, ..Case::default() }, |_| {});
}

#[test]
fn umask() {
    same("umask 0077", |b| {
        b.config["process"]["user"]["umask"] = 0o077.into();
    });
}

#[test]
fn private_rootfs_propagation() {
    same("rootfsPropagation private", |b| {
        b.config["linux"]["rootfsPropagation"] = "private".into();
    });
}

#[test]
fn working_directory_and_environment() {
    same("cwd /tmp and custom env", |b| {
        b.config["process"]["cwd"] = "/tmp".into();
        b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar", "HOME=/elsewhere"]);
    });
}
