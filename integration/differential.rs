#[path = "common/mod.rs"]
mod common;
use common::*;
use common::mountinfo::normalise_mounts;

// Differential tests: the same bundle run under runc (Debian's, at
// /usr/sbin/runc) and under husk must look the same from inside and from
// `state`. Each configuration is its own test; each runs
//
// 1. `run` under both runtimes with one probe command, comparing every
//    section of its output (hostname, domainname, capability lines,
//    uid/gid/groups, umask, rlimits, environment, cwd, namespaces, id maps,
//    mount list) and the exit code;
// 2. `create` under both, comparing `state`, then `start`, waiting for
//    "stopped", comparing `state` and the probe output again, and `delete`;
// 3. checks on husk's output that the configuration took effect at all.
//
// Everything is compared exactly except what is normalised, each with its
// reason: mountinfo ids, device numbers and peer group numbers, and the root
// and super-block options of cgroup mounts (`normalise_mounts`); namespace
// inode numbers (`normalise_namespaces`); id, times, pid and ociVersion in
// `state` (`normalise_state`); and a configured domainname, which runc 1.1
// ignores (`compare_probes`).
//
// husk always goes first, so that it never profits from mount targets runc
// created in the shared rootfs. Both use the same bundle directory, each
// with its own --root.

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
    "namespaces",
    "idmaps",
    "mounts",
];

/// The namespaces the probe looks at.
const NAMESPACES: &[&str] = &["cgroup", "ipc", "mnt", "net", "pid", "user", "uts"];

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
         echo @namespaces; for ns in {namespaces}; do echo $ns $(readlink /proc/self/ns/$ns); done\n\
         echo @idmaps; cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups\n\
         echo @mounts; cat /proc/self/mountinfo\n\
         exit {exit}\n",
        namespaces = NAMESPACES.join(" ")
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

/// `type type:[inode]` lines as `type host` or `type new`: whether the
/// container shares the namespace with this test (which runs in the host's)
/// or has one of its own. The inode numbers of new namespaces differ.
fn normalise_namespaces(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            let (ns, link) = line.split_once(' ').unwrap_or((line, ""));
            let host = std::fs::read_link(format!("/proc/self/ns/{ns}")).expect("read own namespace link");
            let kind = if link.is_empty() {
                "unreadable"
            } else if Path::new(link) == host {
                "host"
            } else {
                "new"
            };
            format!("{ns} {kind}")
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
/// Returns husk's sections, for checks of the configuration's own effect.
fn compare_probes(context: &str, case: Case, husk: &str, husk_err: &str, runc: &str, runc_err: &str) -> Sections {
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
        } else if *name == "namespaces" {
            assert_same(context, "the namespaces", &normalise_namespaces(hs), &normalise_namespaces(rs));
        } else {
            assert_same(context, &format!("section {name}"), hs, rs);
        }
    }
    h
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
/// Returns husk's sections.
fn compare_run(bundle: &mut Bundle, context: &str, case: Case) -> Sections {
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
        .expect("run /usr/sbin/runc (Debian's runc package)");

    let sections =
        compare_probes(context, case, &text(&husk.stdout), &text(&husk.stderr), &text(&out.stdout), &text(&out.stderr));
    assert_eq!(code(&husk), case.exit, "{context}: husk's exit code; stderr: {}", text(&husk.stderr));
    assert_eq!(code(&out), case.exit, "{context}: runc's exit code; stderr: {}", text(&out.stderr));
    sections
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

/// Runs one configuration: the default spec with the probe, edited by
/// `edit`. Returns husk's sections of the `run`, which the tests check for
/// the configuration's own effect: agreeing with runc is not enough if the
/// edit never reached either runtime.
fn differential(context: &str, case: Case, edit: impl FnOnce(&mut Bundle)) -> Sections {
    let mut bundle = Bundle::new(&[]);
    bundle.config["process"]["args"] = json!(probe(case.exit));
    edit(&mut bundle);
    bundle.write();
    let sections = compare_run(&mut bundle, context, case);
    compare_lifecycle(&mut bundle, context, case);
    sections
}

fn same(context: &str, edit: impl FnOnce(&mut Bundle)) -> Sections {
    differential(context, Case::default(), edit)
}


/// A configuration both runtimes must refuse: `run` fails under each with
/// the same exit code, before the probe prints anything.
fn both_fail(context: &str, edit: impl FnOnce(&mut Bundle)) -> (String, String) {
    let mut bundle = Bundle::new(&[]);
    bundle.config["process"]["args"] = json!(probe(0));
    edit(&mut bundle);
    bundle.write();
    let husk_id = bundle.id("husk-run");
    let husk = bundle.husk(&["run", &husk_id]);
    let runc = RuncContainer::new(&mut bundle, "runc-run");
    let out = runc.cmd(&["run", "-b"]).arg(&bundle.dir).arg(&runc.id).current_dir(&bundle.dir).output().unwrap();
    assert_ne!(code(&husk), 0, "{context}: husk run succeeded: {}", text(&husk.stdout));
    assert_ne!(code(&out), 0, "{context}: runc run succeeded: {}", text(&out.stdout));
    assert_eq!(code(&husk), code(&out), "{context}: exit codes (husk, runc)");
    assert_eq!(text(&husk.stdout), "", "{context}: husk's container ran");
    assert_eq!(text(&out.stdout), "", "{context}: runc's container ran");
    (text(&husk.stderr), text(&out.stderr))
}

// Checks of each configuration's own effect, on husk's sections (which the
// differential comparison has found equal to runc's).

fn one(sections: &Sections, name: &str) -> String {
    sections[name].join("\n")
}

/// A capability set from the `capabilities` section, e.g. "CapAmb".
fn cap_set(sections: &Sections, set: &str) -> u64 {
    let line = sections["capabilities"]
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{set}:")))
        .unwrap_or_else(|| panic!("no {set} line"));
    u64::from_str_radix(line.trim(), 16).unwrap()
}

fn cap_mask(names: &[&str]) -> u64 {
    names
        .iter()
        .map(|name| match *name {
            "CAP_CHOWN" => 0,
            "CAP_KILL" => 5,
            "CAP_SETUID" => 7,
            "CAP_NET_BIND_SERVICE" => 10,
            "CAP_NET_ADMIN" => 12,
            "CAP_NET_RAW" => 13,
            "CAP_SYS_ADMIN" => 21,
            "CAP_AUDIT_WRITE" => 29,
            other => panic!("add {other} to cap_mask"),
        })
        .fold(0, |mask, bit| mask | 1 << bit)
}

/// The normalised mount at `point` (the last one, which is what is seen).
fn mount_at(sections: &Sections, point: &str) -> Option<String> {
    let prefix = format!("{point} ");
    normalise_mounts(&sections["mounts"]).into_iter().rev().find(|m| m.starts_with(&prefix))
}

fn mount_field<'a>(mount: &'a str, field: &str) -> &'a str {
    mount
        .split(' ')
        .find_map(|f| f.strip_prefix(field).and_then(|f| f.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {field} in {mount}"))
}

fn has_option(options: &str, option: &str) -> bool {
    options.split(',').any(|o| o == option)
}

fn namespace(sections: &Sections, ns: &str) -> String {
    let prefix = format!("{ns} ");
    normalise_namespaces(&sections["namespaces"])
        .into_iter()
        .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        .unwrap_or_else(|| panic!("no {ns} namespace line"))
}

/// A /proc/self/limits line's soft and hard values.
fn limit(sections: &Sections, name: &str) -> (String, String) {
    let line = sections["limits"].iter().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no {name}"));
    let values: Vec<&str> = line[name.len()..].split_whitespace().collect();
    (values[0].to_string(), values[1].to_string())
}

const DEFAULT_CAPS: &[&str] = &["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];

#[test]
fn default_spec() {
    let s = same("default spec", |_| {});
    assert_eq!(one(&s, "hostname"), "husk");
    assert_eq!(cap_set(&s, "CapBnd"), cap_mask(DEFAULT_CAPS));
    assert_eq!(cap_set(&s, "CapAmb"), 0, "ambient needs inheritable, which the default leaves empty");
    assert_eq!(one(&s, "uid") + &one(&s, "gid"), "00");
    assert!(has_option(mount_field(&mount_at(&s, "/").unwrap(), "opts"), "ro"));
    for ns in ["ipc", "mnt", "net", "pid", "uts"] {
        assert_eq!(namespace(&s, ns), "new", "{ns}");
    }
    for ns in ["cgroup", "user"] {
        assert_eq!(namespace(&s, ns), "host", "{ns}");
    }
}

#[test]
fn non_root_user_with_additional_groups() {
    let s = same("uid 1000, gid 1000, groups 5 100", |b| {
        b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 100]});
    });
    assert_eq!(one(&s, "uid"), "1000");
    assert_eq!(one(&s, "gid"), "1000");
    assert_eq!(one(&s, "groups"), "1000 5 100");
    assert!(s["environment"].contains(&"HOME=/home/user".to_string()));
}

#[test]
fn writable_root() {
    let s = same("root.readonly false", |b| {
        b.config["root"]["readonly"] = false.into();
    });
    assert!(has_option(mount_field(&mount_at(&s, "/").unwrap(), "opts"), "rw"));
}

#[test]
fn extra_capabilities_in_every_set() {
    let mut caps: Vec<&str> = DEFAULT_CAPS.to_vec();
    caps.extend(["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_CHOWN"]);
    let s = same("extra capabilities", |b| {
        b.config["process"]["capabilities"] = json!({
            "bounding": caps, "effective": caps, "permitted": caps, "inheritable": caps, "ambient": caps
        });
    });
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(cap_set(&s, set), cap_mask(&caps), "{set}");
    }
}

#[test]
fn capability_sets_differ() {
    // Each set its own; a capability is only ambient where permitted and
    // inheritable allow it (runc skips the others without an error).
    let s = same("distinct capability sets", |b| {
        b.config["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID", "CAP_SYS_ADMIN"],
            "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": ["CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"],
            "ambient": ["CAP_KILL", "CAP_SETUID", "CAP_SYS_ADMIN"]
        });
    });
    assert_eq!(cap_set(&s, "CapAmb"), cap_mask(&["CAP_KILL"]));
    assert_eq!(cap_set(&s, "CapInh"), cap_mask(&["CAP_KILL", "CAP_NET_RAW", "CAP_SYS_ADMIN"]));
    assert_eq!(
        cap_set(&s, "CapBnd"),
        cap_mask(&["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID", "CAP_SYS_ADMIN"])
    );
}

#[test]
fn empty_capabilities_object() {
    let s = same("capabilities {}", |b| {
        b.config["process"]["capabilities"] = json!({});
    });
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(cap_set(&s, set), 0, "{set}");
    }
}

#[test]
fn no_capabilities_at_all() {
    // Like an empty object: every set empty (and not oci-spec's default).
    let s = same("no process.capabilities", |b| {
        b.config["process"].as_object_mut().unwrap().remove("capabilities");
    });
    for set in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(cap_set(&s, set), 0, "{set}");
    }
}

#[test]
fn new_privileges_allowed() {
    let s = same("noNewPrivileges false", |b| {
        b.config["process"]["noNewPrivileges"] = false.into();
    });
    assert!(s["capabilities"].contains(&"NoNewPrivs:\t0".to_string()));
}

#[test]
fn extra_tmpfs_and_readonly_bind() {
    let s = same("tmpfs /mnt/scratch and ro bind /data", |b| {
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
    let scratch = mount_at(&s, "/mnt/scratch").expect("/mnt/scratch mounted");
    assert_eq!(mount_field(&scratch, "type"), "tmpfs");
    let (opts, sup) = (mount_field(&scratch, "opts"), mount_field(&scratch, "super"));
    assert!(has_option(opts, "nosuid") && has_option(opts, "nodev") && has_option(opts, "rw"), "{scratch}");
    assert!(has_option(sup, "mode=700") && has_option(sup, "size=1024k"), "{scratch}");
    let data = mount_at(&s, "/data").expect("/data mounted");
    assert!(has_option(mount_field(&data, "opts"), "ro"), "{data}");
    assert!(mount_field(&data, "root").ends_with("/host-data"), "{data}");
}

#[test]
fn hostname_and_domainname() {
    let case = Case { domainname: Some("example.org"), ..Case::default() };
    let s = differential("hostname and domainname", case, |b| {
        b.config["hostname"] = "differential-host".into();
        b.config["domainname"] = "example.org".into();
    });
    assert_eq!(one(&s, "hostname"), "differential-host");
    assert_eq!(one(&s, "domainname"), "example.org");
}

#[test]
fn no_network_namespace() {
    let s = same("no network namespace", |b| {
        let namespaces = b.config["linux"]["namespaces"].as_array_mut().unwrap();
        namespaces.retain(|ns| ns["type"] != "network");
    });
    assert_eq!(namespace(&s, "net"), "host");
}

#[test]
fn custom_masked_and_readonly_paths() {
    let s = same("custom maskedPaths and readonlyPaths", |b| {
        // Files, directories and paths that do not exist, in proc and not.
        b.config["linux"]["maskedPaths"] =
            json!(["/proc/cpuinfo", "/proc/acpi", "/etc/group", "/home/user", "/no/such/path"]);
        b.config["linux"]["readonlyPaths"] = json!(["/proc/sys", "/etc", "/tmp", "/no/such/dir"]);
    });
    for file in ["/proc/cpuinfo", "/etc/group"] {
        let m = mount_at(&s, file).unwrap_or_else(|| panic!("{file} masked"));
        assert_eq!(mount_field(&m, "root"), "/null", "{m}");
    }
    for dir in ["/proc/acpi", "/home/user"] {
        let m = mount_at(&s, dir).unwrap_or_else(|| panic!("{dir} masked"));
        assert_eq!(mount_field(&m, "type"), "tmpfs", "{m}");
        assert!(has_option(mount_field(&m, "opts"), "ro"), "{m}");
    }
    for dir in ["/proc/sys", "/etc", "/tmp"] {
        let m = mount_at(&s, dir).unwrap_or_else(|| panic!("{dir} read-only"));
        assert!(has_option(mount_field(&m, "opts"), "ro"), "{m}");
    }
    // The default lists are replaced, not added to.
    assert!(mount_at(&s, "/proc/keys").is_none());
}

#[test]
fn exit_code() {
    differential("exit 7", Case { exit: 7, ..Case::default() }, |_| {});
}

#[test]
fn rlimits() {
    // At or below this host's hard limits: it lacks CAP_SYS_RESOURCE.
    let s = same("rlimits", |b| {
        b.config["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
            {"type": "RLIMIT_NPROC", "soft": 200, "hard": 300}
        ]);
    });
    assert_eq!(limit(&s, "Max open files"), ("512".into(), "1024".into()));
    assert_eq!(limit(&s, "Max processes"), ("200".into(), "300".into()));
}

#[test]
fn user_namespace() {
    let s = same("user namespace 0 -> 100000 (65536)", |b| {
        b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
        b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    });
    assert_eq!(namespace(&s, "user"), "new");
    let maps: Vec<String> = s["idmaps"].iter().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(maps[..2], ["0 100000 65536", "0 100000 65536"]);
    assert_eq!(one(&s, "uid"), "0");
}

#[test]
fn cgroup_namespace() {
    let s = same("cgroup namespace", |b| {
        b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "cgroup"}));
    });
    assert_eq!(namespace(&s, "cgroup"), "new");
}

#[test]
fn no_pivot() {
    differential("--no-pivot", Case { no_pivot: true, ..Case::default() }, |_| {});
}

#[test]
fn umask() {
    let s = same("umask 0077", |b| {
        b.config["process"]["user"]["umask"] = 0o077.into();
    });
    assert_eq!(one(&s, "umask"), "0077");
}

fn propagation(mode: &str) -> Sections {
    same(&format!("rootfsPropagation {mode}"), |b| {
        b.config["linux"]["rootfsPropagation"] = mode.into();
    })
}

#[test]
fn private_rootfs_propagation() {
    let s = propagation("private");
    assert!(normalise_mounts(&s["mounts"]).iter().all(|m| m.contains(" tags=[] ")));
}

#[test]
fn shared_rootfs_propagation() {
    propagation("shared");
}

#[test]
fn recursively_shared_rootfs_propagation() {
    let s = propagation("rshared");
    assert!(normalise_mounts(&s["mounts"]).iter().any(|m| m.contains(" tags=[shared] ")));
}

#[test]
fn recursively_slave_rootfs_propagation() {
    propagation("rslave");
}

#[test]
fn unbindable_rootfs_propagation_fails_under_both() {
    // An unbindable / cannot have the rootfs bound onto itself: EINVAL.
    let (husk, runc) = both_fail("rootfsPropagation unbindable", |b| {
        b.config["linux"]["rootfsPropagation"] = "unbindable".into();
    });
    assert!(husk.contains("rootfs") && husk.contains("EINVAL"), "husk: {husk}");
    assert!(runc.contains("rootfs") && runc.contains("invalid argument"), "runc: {runc}");
}

#[test]
fn working_directory_and_environment() {
    let s = same("cwd /tmp and custom env", |b| {
        b.config["process"]["cwd"] = "/tmp".into();
        b.config["process"]["env"] = json!(["PATH=/bin", "FOO=bar", "HOME=/elsewhere"]);
    });
    assert_eq!(one(&s, "cwd"), "/tmp");
    for var in ["FOO=bar", "HOME=/elsewhere", "PATH=/bin"] {
        assert!(s["environment"].contains(&var.to_string()), "{var}");
    }
}
