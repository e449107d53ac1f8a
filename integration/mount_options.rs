#[path = "common/mod.rs"]
mod common;
use common::*;

// The mount options husk applies itself: `tmpcopyup` (the image's directory
// copied into a new tmpfs) and `idmap`/`ridmap` (id-mapped bind mounts, with
// the mount's own uidMappings/gidMappings or the container's user
// namespace). Effects are read from inside the container and, through
// /proc/PID/root of a created container, from the host; bad values must fail
// with one line naming the field and leave nothing. One differential test
// compares tmpcopyup with Debian's runc 1.1.5 (which has no idmap).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

const RUNC: &str = "/usr/sbin/runc";

fn sh(script: &str) {
    let out = Command::new("sh").arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "{script}: {}", text(&out.stderr));
}

fn add_mount(b: &mut Bundle, mount: Value) -> usize {
    let mounts = b.config["mounts"].as_array_mut().unwrap();
    mounts.push(mount);
    mounts.len() - 1
}

fn with_user_namespace(b: &mut Bundle, host: u32) {
    b.config["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "user"}));
    b.config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": host, "size": 65536}]);
    b.config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": host, "size": 65536}]);
}

/// `create`s the container and returns its init's pid: its /proc/PID/root
/// shows the container's mounts from the host.
fn created(b: &mut Bundle, name: &str) -> (String, i64) {
    b.write();
    let id = b.id(name);
    let out = b.husk(&["create", &id]);
    assert!(out.status.success(), "create: {}", text(&out.stderr));
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    (id, pid)
}

fn xattr(path: &Path, name: &str) -> String {
    let script = format!("import os,sys; sys.stdout.write(os.getxattr({:?}, {name:?}).decode())", path.display().to_string());
    let out = Command::new("python3").arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "getxattr {name} of {}: {}", path.display(), text(&out.stderr));
    text(&out.stdout)
}

fn set_xattr(path: &Path, name: &str, value: &str) {
    let script = format!("import os; os.setxattr({:?}, {name:?}, {value:?}.encode())", path.display().to_string());
    let out = Command::new("python3").arg("-c").arg(script).output().unwrap();
    assert!(out.status.success(), "setxattr {name} of {}: {}", path.display(), text(&out.stderr));
}

/// The image's /x: a set-uid file owned 1000:1001 with two extended
/// attributes and a second hard link, a symlink, a fifo, a 0711 directory
/// owned 1000 with an old mtime, and the directory itself 0751, 7:8 (the
/// default process has no CAP_DAC_OVERRIDE: others may only search).
fn image_tree(rootfs: &Path) -> PathBuf {
    let x = rootfs.join("x");
    std::fs::create_dir_all(x.join("private")).unwrap();
    std::fs::write(x.join("file"), "from the image\n").unwrap();
    set_xattr(&x.join("file"), "user.origin", "image");
    set_xattr(&x.join("file"), "trusted.kept", "yes");
    std::fs::write(x.join("private/deep"), "deep\n").unwrap();
    sh(&format!(
        "cd {} && ln file hard && ln -s file link && mkfifo fifo && chown 1000:1001 file && chmod 4755 file \
         && chown 1000:1000 private && chmod 0711 private && touch -d @946684800 private/deep private \
         && touch -h -d @946684801 link && chown 7:8 . && chmod 0751 .",
        x.display()
    ));
    x
}

#[test]
fn tmpcopyup_copies_the_image_directory_keeping_owners_modes_links_and_xattrs() {
    let mut b = Bundle::new(&["sh", "-c", "cat /x/file /x/private/deep && stat -c '%u:%g %a' /x /x/file"]);
    let image = image_tree(&b.rootfs());
    add_mount(&mut b, json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "tmpcopyup"]}));
    b.write();
    assert_eq!(b.run_ok("copyup"), "from the image\ndeep\n7:8 751\n1000:1001 4755\n");

    // From the host, through the created container's root.
    let (id, pid) = created(&mut b, "copyupview");
    let x = PathBuf::from(format!("/proc/{pid}/root/x"));
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    assert!(mountinfo.lines().any(|l| l.contains(" /x ") && l.contains(" - tmpfs ")), "no tmpfs on /x:\n{mountinfo}");
    for name in ["", "file", "hard", "link", "fifo", "private", "private/deep"] {
        let (copy, original) = (std::fs::symlink_metadata(x.join(name)).unwrap(), std::fs::symlink_metadata(image.join(name)).unwrap());
        let what = format!("/x/{name}");
        assert_eq!((copy.uid(), copy.gid()), (original.uid(), original.gid()), "owner of {what}");
        assert_eq!(copy.mode(), original.mode(), "type and mode of {what}");
        if !name.is_empty() {
            assert_eq!(copy.mtime(), original.mtime(), "mtime of {what}");
        }
    }
    assert_ne!(std::fs::metadata(&x).unwrap().dev(), std::fs::metadata(&image).unwrap().dev(), "/x is the image's own directory");
    assert_eq!(std::fs::metadata(x.join("private/deep")).unwrap().mtime(), 946684800);
    assert_eq!(std::fs::symlink_metadata(x.join("link")).unwrap().mtime(), 946684801);
    assert_eq!(std::fs::read_link(x.join("link")).unwrap(), Path::new("file"));
    assert_eq!(std::fs::metadata(x.join("file")).unwrap().ino(), std::fs::metadata(x.join("hard")).unwrap().ino(), "hard link kept");
    assert_eq!(xattr(&x.join("file"), "user.origin"), "image");
    assert_eq!(xattr(&x.join("file"), "trusted.kept"), "yes");
    // The image is untouched: a write goes to the tmpfs.
    std::fs::write(x.join("new"), "tmpfs").unwrap();
    assert!(!image.join("new").exists());
    let out = b.husk(&["delete", "--force", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
}

#[test]
fn tmpcopyup_read_only_and_where_the_image_has_nothing() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /x/file; touch /x/no 2>/dev/null && echo writable; grep ' /x ' /proc/self/mountinfo | cut -d' ' -f6; \
         ls -a /fresh | tr '\\n' ' '; grep -c ' /fresh .* - tmpfs ' /proc/self/mountinfo",
    ]);
    std::fs::create_dir(b.rootfs().join("x")).unwrap();
    std::fs::write(b.rootfs().join("x/file"), "ro copy\n").unwrap();
    add_mount(&mut b, json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "tmpcopyup"]}));
    add_mount(&mut b, json!({"destination": "/fresh", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "tmpcopyup"]}));
    b.write();
    assert_eq!(b.run_ok("copyupro"), "ro copy\nro,relatime\n. .. 1\n");
    b.config["process"]["args"] = json!(["sh", "-c", "touch /fresh/no 2>/dev/null && echo writable; grep ' /fresh ' /proc/self/mountinfo | cut -d' ' -f6"]);
    b.write();
    assert_eq!(b.run_ok("copyupfresh"), "ro,relatime\n", "a read-only copy-up with nothing to copy");
    assert!(b.rootfs().join("fresh").is_dir(), "the missing destination was made in the rootfs");
}

#[test]
fn a_tmpfs_over_a_directory_takes_its_mode_unless_configured() {
    let mut b = Bundle::new(&["stat", "-c", "%a", "/a", "/b"]);
    for dir in ["a", "b"] {
        std::fs::create_dir(b.rootfs().join(dir)).unwrap();
        std::fs::set_permissions(b.rootfs().join(dir), std::fs::Permissions::from_mode(0o710)).unwrap();
    }
    add_mount(&mut b, json!({"destination": "/a", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]}));
    add_mount(&mut b, json!({"destination": "/b", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}));
    b.write();
    assert_eq!(b.run_ok("tmpfsmode"), "710\n1777\n");
}

/// A host directory, removed when dropped (a failed test leaves none).
struct HostDir(PathBuf);

impl std::ops::Deref for HostDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl serde::Serialize for HostDir {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A host directory of files owned by 0:0, 1000:1000 and 5:6.
fn host_source(name: &str) -> HostDir {
    let dir = std::env::temp_dir().join(format!("husk-idmap-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for (file, owner) in [("root", "0:0"), ("user", "1000:1000"), ("five", "5:6")] {
        std::fs::write(dir.join(file), file).unwrap();
        sh(&format!("chown {owner} {}", dir.join(file).display()));
    }
    HostDir(dir)
}

fn owners(dir: &Path) -> Vec<(u32, u32)> {
    ["root", "user", "five"].iter().map(|f| std::fs::metadata(dir.join(f)).map(|m| (m.uid(), m.gid())).unwrap()).collect()
}

#[test]
fn idmap_with_its_own_mappings_and_no_user_namespace() {
    let src = host_source("own");
    let mut b = Bundle::new(&["stat", "-c", "%n %u %g", "/data/root", "/data/user", "/data/five"]);
    add_mount(&mut b, json!({
        "destination": "/data", "type": "bind", "source": src, "options": ["bind", "idmap"],
        "uidMappings": [{"containerID": 0, "hostID": 2000, "size": 1001}],
        "gidMappings": [{"containerID": 0, "hostID": 3000, "size": 1001}]
    }));
    b.write();
    assert_eq!(b.run_ok("idmapown"), "/data/root 2000 3000\n/data/user 3000 4000\n/data/five 2005 3006\n");
    assert_eq!(owners(&src), [(0, 0), (1000, 1000), (5, 6)], "the host's files keep their owners");
}

#[test]
fn idmap_without_mappings_takes_the_container_user_namespace() {
    let src = host_source("userns");
    let script = "stat -c '%n %u %g' /data/root /data/user /plain/root && echo made > /data/made";
    let mut b = Bundle::new(&["sh", "-c", script]);
    // Made here: the rootfs is nobody's in the container's user namespace.
    std::fs::create_dir(b.rootfs().join("data")).unwrap();
    std::fs::create_dir(b.rootfs().join("plain")).unwrap();
    with_user_namespace(&mut b, 300000);
    add_mount(&mut b, json!({"destination": "/data", "type": "bind", "source": src, "options": ["bind", "idmap"]}));
    // The same directory without the idmap: its files are nobody's inside.
    add_mount(&mut b, json!({"destination": "/plain", "type": "bind", "source": src, "options": ["bind"]}));
    b.write();
    assert_eq!(b.run_ok("idmapuserns"), "/data/root 0 0\n/data/user 1000 1000\n/plain/root 65534 65534\n");
    assert_eq!(owners(&src), [(0, 0), (1000, 1000), (5, 6)]);
    // The container's root (host 300000) wrote as uid 0 through the mapping.
    let made = std::fs::metadata(src.join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (0, 0));
}

/// Not a bind mount: a tmpfs the parent makes for the mount (as crun 1.9
/// does), id-mapped, with its options, flags and the directory's mode.
#[test]
fn idmap_on_a_tmpfs_made_for_the_mount() {
    let mut b = Bundle::new(&["sh", "-c", "stat -c '%u %g %a' /data; grep ' /data ' /proc/self/mountinfo | cut -d' ' -f6-"]);
    std::fs::create_dir(b.rootfs().join("data")).unwrap();
    std::fs::set_permissions(b.rootfs().join("data"), std::fs::Permissions::from_mode(0o750)).unwrap();
    add_mount(&mut b, json!({
        "destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "idmap", "size=1m"],
        "uidMappings": [{"containerID": 0, "hostID": 2000, "size": 100}],
        "gidMappings": [{"containerID": 0, "hostID": 3000, "size": 100}]
    }));
    b.write();
    assert_eq!(b.run_ok("idmaptmpfs"), "2000 3000 750\nrw,nosuid,nodev,relatime,idmapped - tmpfs tmpfs rw,size=1024k,mode=750\n");
}

/// `husk run` inside a private mount namespace where `mount` (a shell
/// command) was run first: for sources with submounts of their own.
fn run_with_submount(b: &mut Bundle, name: &str, mount: &str) -> String {
    b.write();
    let id = b.id(name);
    let husk = b.husk_cmd(&["run", &id]);
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &format!("{mount} && exec \"$@\""), "sh"]);
    cmd.arg(husk.get_program()).args(husk.get_args());
    let out = b.output_of(cmd);
    assert!(out.status.success(), "{name}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn ridmap_maps_the_submounts_of_an_rbind_and_idmap_does_not() {
    let src = host_source("rec");
    let mount = format!("mount -t tmpfs tmpfs {0}/sub && echo s > {0}/sub/f && chown 9:9 {0}/sub/f", src.display());
    let maps = |options: &[&str]| {
        json!({
            "destination": "/data", "type": "bind", "source": src, "options": options,
            "uidMappings": [{"containerID": 0, "hostID": 2000, "size": 1001}],
            "gidMappings": [{"containerID": 0, "hostID": 2000, "size": 1001}]
        })
    };
    for (options, sub) in [(["rbind", "ridmap"], "2009"), (["rbind", "idmap"], "9")] {
        let mut b = Bundle::new(&["stat", "-c", "%u", "/data/five", "/data/sub/f"]);
        add_mount(&mut b, maps(&options));
        let out = run_with_submount(&mut b, "ridmap", &mount);
        assert_eq!(out, format!("2005\n{sub}\n"), "{options:?}");
    }
}

/// Asserts one line on stderr that names `field`, and nothing left.
#[track_caller]
fn refused(b: &mut Bundle, name: &str, field: &str, problem: &str) {
    b.write();
    let id = b.id(name);
    let out: Output = b.husk(&["create", &id]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{name}: create succeeded");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{name}: not one line:\n{stderr}");
    assert!(stderr.contains(&format!("config.json: {field}: ")), "{name}: {field} not named:\n{stderr}");
    assert!(stderr.contains(problem), "{name}: {problem:?} not said:\n{stderr}");
    assert!(!b.root.join(&id).exists(), "{name}: state directory left");
    assert_no_cgroup(&id);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(b.dir.to_string_lossy().as_ref()), "{name}: mount left");
}

#[test]
fn bad_values_fail_with_one_line_naming_the_field() {
    let one = json!([{"containerID": 0, "hostID": 2000, "size": 10}]);
    let src = host_source("bad");
    let cases: Vec<(&str, Value, bool, &str, &str)> = vec![
        // proc cannot be id-mapped: the kernel says so at mount_setattr.
        ("procfs", json!({"destination": "/data", "type": "bind", "source": "/proc", "options": ["rbind", "idmap"],
                          "uidMappings": one, "gidMappings": one}), false, "options", "cannot be id-mapped"),
        ("nouserns", json!({"destination": "/data", "type": "bind", "source": src, "options": ["bind", "idmap"]}),
         false, "options", "the container has none"),
        ("procidmap", json!({"destination": "/data", "type": "proc", "source": "proc", "options": ["idmap"]}),
         true, "options", "belongs to the container's namespaces"),
        // devpts cannot be id-mapped: refused by the kernel, in the parent.
        ("devptsidmap", json!({"destination": "/data", "type": "devpts", "source": "devpts", "options": ["idmap"]}),
         true, "options", "cannot be id-mapped"),
        ("tmpfsoption", json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["idmap", "size=lots"]}),
         true, "options", "size=lots"),
        ("uidonly", json!({"destination": "/data", "type": "bind", "source": src, "options": ["bind", "idmap"],
                           "uidMappings": one}), false, "uidMappings", "together with gidMappings"),
        ("sizezero", json!({"destination": "/data", "type": "bind", "source": src, "options": ["bind", "idmap"],
                            "uidMappings": [{"containerID": 0, "hostID": 1, "size": 0}], "gidMappings": one}),
         false, "uidMappings[0].size", "greater than zero"),
        ("overlap", json!({"destination": "/data", "type": "bind", "source": src, "options": ["bind", "idmap"],
                           "uidMappings": one,
                           "gidMappings": [{"containerID": 0, "hostID": 1, "size": 5}, {"containerID": 3, "hostID": 9, "size": 1}]}),
         false, "gidMappings[1]", "overlaps"),
        ("missingsource", json!({"destination": "/data", "type": "bind", "source": src.join("nothing"),
                                 "options": ["bind", "idmap"], "uidMappings": one, "gidMappings": one}),
         false, "source", "No such file"),
        ("copyupbind", json!({"destination": "/data", "type": "bind", "source": src, "options": ["bind", "tmpcopyup"]}),
         false, "options", "tmpfs mounts only"),
    ];
    for (name, mount, userns, field, problem) in cases {
        let mut b = Bundle::new(&["true"]);
        if userns {
            with_user_namespace(&mut b, 300000);
        }
        let index = add_mount(&mut b, mount);
        refused(&mut b, name, &format!("mounts[{index}].{field}"), problem);
    }
}

/// `husk features` lists the three options and id-mapped mounts as enabled,
/// and each works as listed.
#[test]
fn features_list_the_options_that_work() {
    let out = Command::new(HUSK).arg("features").output().unwrap();
    let features: Value = serde_json::from_slice(&out.stdout).unwrap();
    let options: Vec<&str> = features["mountOptions"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    assert_eq!(features["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    let src = host_source("features");
    for option in ["tmpcopyup", "idmap", "ridmap"] {
        assert!(options.contains(&option), "{option} not listed");
        let mut b = Bundle::new(&["stat", "-c", "%u", "/data/five"]);
        if option == "tmpcopyup" {
            std::fs::create_dir(b.rootfs().join("data")).unwrap();
            std::fs::write(b.rootfs().join("data/five"), "5").unwrap();
            sh(&format!("chown 5 {}", b.rootfs().join("data/five").display()));
            add_mount(&mut b, json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": [option]}));
            b.write();
            assert_eq!(b.run_ok("feature"), "5\n", "{option}");
        } else {
            add_mount(&mut b, json!({"destination": "/data", "type": "bind", "source": src, "options": ["rbind", option],
                                     "uidMappings": [{"containerID": 0, "hostID": 100, "size": 10}],
                                     "gidMappings": [{"containerID": 0, "hostID": 100, "size": 10}]}));
            b.write();
            assert_eq!(b.run_ok("feature"), "105\n", "{option}");
        }
    }
}

/// Deletes a runc container when dropped.
struct RuncContainer {
    root: PathBuf,
    id: String,
}

impl Drop for RuncContainer {
    fn drop(&mut self) {
        let _ = Command::new(RUNC).arg("--root").arg(&self.root).args(["delete", "--force", &self.id]).output();
    }
}

/// What the container sees of /x: each path with owner, mode and type (and
/// a symlink's target), each file's content, and the tmpfs's mount line
/// without its ids and device.
const LISTING: &str = "cd /x && find . | sort | while read -r p; do stat -c '%n %u:%g %a %F %N' \"$p\"; done; \
     cat file private/deep; grep ' /x ' /proc/self/mountinfo | cut -d' ' -f4-";

#[test]
fn tmpcopyup_as_runc_does() {
    let mut b = Bundle::new(&["sh", "-c", LISTING]);
    // What runc 1.1.5 keeps too: no xattrs, no times, directories 0755 (its
    // copy creates them under the umask).
    let x = b.rootfs().join("x");
    std::fs::create_dir_all(x.join("private")).unwrap();
    std::fs::write(x.join("file"), "from the image\n").unwrap();
    std::fs::write(x.join("private/deep"), "deep\n").unwrap();
    sh(&format!(
        "cd {} && ln -s file link && chown 1000:1001 file && chmod 4711 file && chown 1000:1000 private private/deep \
         && chmod 0600 private/deep",
        x.display()
    ));
    add_mount(&mut b, json!({"destination": "/x", "type": "tmpfs", "source": "tmpfs",
                             "options": ["nosuid", "nodev", "mode=755", "tmpcopyup"]}));
    b.write();
    let husk = b.run_ok("copyupdiff");

    let runc = RuncContainer { root: b.dir.join("runc-state"), id: b.id("copyupdiff-runc") };
    let out = Command::new(RUNC)
        .arg("--root")
        .arg(&runc.root)
        .args(["run", &runc.id])
        .current_dir(&b.dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "runc run: {}", text(&out.stderr));
    assert_eq!(husk, text(&out.stdout), "husk (left) and runc (right) see different copies");
    assert!(husk.contains("./private/deep 1000:1000 600 regular file"), "{husk}");
}
