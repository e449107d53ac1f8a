//! Shared harness of the integration tests: bundles in private temporary
//! directories, each with its own copy of a busybox rootfs and its own
//! `--root` state directory, so tests run in parallel without meeting.
//! Dropping a bundle deletes its containers and checks that nothing of them
//! is left on the host: no state, no mount, no process.

#![allow(dead_code)]

pub mod docker;
pub mod fd_socket;
pub mod mountinfo;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

pub const HUSK: &str = env!("CARGO_BIN_EXE_husk");

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The repository root (where oci-bundles/ lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A busybox rootfs built once (under cargo's target tmpdir) and copied by
/// each bundle. Built aside and renamed, so concurrent builders never see a
/// half-made tree.
fn template_rootfs() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("busybox-rootfs");
        if dir.join("bin/busybox").exists() {
            return dir;
        }
        let building = dir.with_extension(format!("building-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&building);
        let status = Command::new(repo().join("oci-bundles/rootfs-busybox.sh"))
            .arg(&building)
            .status()
            .expect("run rootfs-busybox.sh");
        assert!(status.success(), "building the busybox rootfs failed (is busybox-static installed?)");
        if std::fs::rename(&building, &dir).is_err() {
            let _ = std::fs::remove_dir_all(&building);
        }
        dir
    })
}

pub struct Bundle {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub config: Value,
    ids: Vec<String>,
    tag: String,
}

impl Bundle {
    /// A fresh bundle with `husk spec`'s config (terminal off) and `args`.
    pub fn new(args: &[&str]) -> Bundle {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}-{}", std::process::id(), n);
        let dir = std::env::temp_dir().join(format!("husk-it-{tag}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let status = Command::new("cp")
            .arg("-a")
            .arg(template_rootfs())
            .arg(dir.join("rootfs"))
            .status()
            .unwrap();
        assert!(status.success());
        let out = Command::new(HUSK).args(["spec", "--bundle"]).arg(&dir).output().unwrap();
        assert!(out.status.success(), "husk spec: {}", String::from_utf8_lossy(&out.stderr));
        let mut config: Value = serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        config["process"]["terminal"] = false.into();
        config["process"]["args"] = args.iter().map(|a| Value::from(*a)).collect();
        let root = dir.join("state");
        let mut bundle = Bundle { dir, root, config, ids: Vec::new(), tag };
        bundle.write();
        bundle
    }

    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// Writes `config` to config.json.
    pub fn write(&mut self) {
        let text = serde_json::to_string_pretty(&self.config).unwrap();
        std::fs::write(self.dir.join("config.json"), text).unwrap();
    }

    /// A container id unique to this bundle; deleted on drop.
    pub fn id(&mut self, name: &str) -> String {
        let id = format!("{name}-{}", self.tag);
        self.ids.push(id.clone());
        id
    }

    /// `husk --root <root> ARGS`, run in the bundle directory, waiting for
    /// husk itself only. Output goes through files, not pipes: after
    /// `create` or `run -d` the container keeps husk's stdout and stderr, as
    /// it must, and a pipe would never reach EOF while it lives.
    pub fn husk(&self, args: &[&str]) -> Output {
        self.husk_binary(Path::new(HUSK), args)
    }

    /// Like `husk`, with another husk binary (a copy the test may watch).
    pub fn husk_binary(&self, binary: &Path, args: &[&str]) -> Output {
        let mut cmd = Command::new(binary);
        cmd.args(self.husk_cmd(args).get_args());
        self.output_of(cmd)
    }

    /// Like `husk`, with these variables added to husk's environment.
    pub fn husk_env(&self, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut cmd = self.husk_cmd(args);
        cmd.envs(env.iter().copied());
        self.output_of(cmd)
    }

    /// Runs `cmd` in the bundle directory with its output in files (see
    /// `husk`) and waits for it.
    pub fn output_of(&self, mut cmd: Command) -> Output {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let out_path = self.dir.join(format!(".husk-{n}.out"));
        let err_path = self.dir.join(format!(".husk-{n}.err"));
        let status = cmd
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .expect("run husk");
        let output = Output {
            status,
            stdout: std::fs::read(&out_path).unwrap_or_default(),
            stderr: std::fs::read(&err_path).unwrap_or_default(),
        };
        let _ = std::fs::remove_file(out_path);
        let _ = std::fs::remove_file(err_path);
        output
    }

    pub fn husk_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(HUSK);
        cmd.arg("--root").arg(&self.root).args(args).current_dir(&self.dir).stdin(Stdio::null());
        cmd
    }

    /// `husk run` in the foreground: (exit code, stdout, stderr).
    pub fn run(&mut self, name: &str) -> (i32, String, String) {
        let id = self.id(name);
        let out = self.husk(&["run", &id]);
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    }

    /// `run -d` that must succeed; returns the container's id.
    pub fn run_detached(&mut self, name: &str) -> String {
        let id = self.id(name);
        let out = self.husk(&["run", "-d", &id]);
        assert!(out.status.success(), "run -d: {}", text(&out.stderr));
        id
    }

    /// `husk exec ARGS`: (exit code, stdout, stderr).
    pub fn exec(&self, args: &[&str]) -> (i32, String, String) {
        let mut all = vec!["exec"];
        all.extend(args);
        let out = self.husk(&all);
        (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
    }

    /// `run` that must succeed; returns stdout.
    pub fn run_ok(&mut self, name: &str) -> String {
        let (code, stdout, stderr) = self.run(name);
        assert_eq!(code, 0, "husk run failed: {stderr}\nstdout: {stdout}");
        stdout
    }

    pub fn state(&self, id: &str) -> Value {
        let out = self.husk(&["state", id]);
        assert!(out.status.success(), "state {id}: {}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("state is JSON")
    }

    /// Asserts that no trace of this bundle's containers remains.
    pub fn assert_clean(&self) {
        for id in &self.ids {
            assert!(!self.root.join(id).exists(), "state directory of {id} left behind");
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let dir = self.dir.to_string_lossy();
        assert!(!mounts.contains(dir.as_ref()), "mount under {dir} left behind");
        let procs = processes_rooted_in(&self.dir);
        assert!(procs.is_empty(), "processes left behind: {procs:?}");
    }
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for id in &self.ids {
            let _ = self.husk(&["delete", "--force", id]);
        }
        let panicking = std::thread::panicking();
        if !panicking {
            self.assert_clean();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// integration/testdata/escprobe.c, built once.
pub fn escprobe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| c_probe("escprobe", &[]))
}

/// No cgroup directory anywhere in the cgroup tree bears the id.
pub fn assert_no_cgroup(id: &str) {
    fn walk(dir: &Path, id: &str, depth: usize) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let path = entry.path();
            assert!(
                !entry.file_name().to_string_lossy().contains(id),
                "cgroup {} left behind",
                path.display()
            );
            if depth < 6 {
                walk(&path, id, depth + 1);
            }
        }
    }
    walk(Path::new("/sys/fs/cgroup"), id, 0);
}

/// `integration/testdata/NAME.c`, compiled statically with `cc` into the
/// test target's tmpdir (aside, then renamed, so parallel tests never run a
/// half-written binary). Callers keep the path in a OnceLock.
pub fn c_probe(name: &str, cc_args: &[&str]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let building = path.with_extension(format!("building-{}", std::process::id()));
    let out = Command::new("cc")
        .arg("-static")
        .args(cc_args)
        .args(["-O1", "-o"])
        .arg(&building)
        .arg(repo().join(format!("integration/testdata/{name}.c")))
        .output()
        .expect("run cc (the C compiler the Rust toolchain links with)");
    assert!(out.status.success(), "building {name}: {}", text(&out.stderr));
    std::fs::rename(&building, &path).unwrap();
    path
}

/// The runtime-spec's JSON schemas: `$OCI_RUNTIME_SPEC_SCHEMA`, or the
/// spec's checkout beside the repository (`../shared/runtime-spec/schema`,
/// or where the project's workspace keeps it). They are read there, not
/// copied into the repository.
pub fn spec_schema_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("OCI_RUNTIME_SPEC_SCHEMA").map(PathBuf::from),
        Some(repo().join("../shared/runtime-spec/schema")),
        Some(PathBuf::from("/work/shared/runtime-spec/schema")),
    ];
    candidates.into_iter().flatten().find(|d| d.join("features-schema.json").is_file())
}

/// Validates `doc` against the schema file `name` in `dir` (with
/// integration/testdata/validate-schema.py, Debian's python3-jsonschema);
/// returns the errors, one per line, or "" if it is valid.
pub fn schema_errors(dir: &Path, name: &str, doc: &Value) -> String {
    use std::io::Write;
    let mut child = Command::new("/usr/bin/python3")
        .arg(repo().join("integration/testdata/validate-schema.py"))
        .arg(dir.join(name))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run /usr/bin/python3 (is python3-jsonschema installed?)");
    child.stdin.take().unwrap().write_all(doc.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.code().is_some_and(|c| c <= 1),
        "validate-schema.py failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Pids of processes whose root directory lies under `dir`.
pub fn processes_rooted_in(dir: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/root")).is_ok_and(|r| r.starts_with(dir)))
        .collect()
}

/// Decodes the quoted `msg="…"` of a logrus text line (Rust debug escapes).
pub fn unquote_msg(line: &str) -> Option<String> {
    let start = line.find(" msg=\"")? + " msg=\"".len();
    let mut out = String::new();
    let mut chars = line[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                '0' => out.push('\0'),
                'u' => {
                    let hex: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Polls `cond` for up to 10 s.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Makes the child of `cmd` start with each fd in `fds` open on `source`,
/// not close-on-exec, as an engine's shim leaves fds to husk.
pub fn open_fds_in_child(cmd: &mut Command, source: std::os::fd::RawFd, fds: std::ops::RangeInclusive<i32>) {
    let pairs: Vec<_> = fds.map(|fd| (source, fd)).collect();
    place_fds_in_child(cmd, pairs);
}

/// Makes the child of `cmd` start with each `(source, target)`: target open
/// on source, not close-on-exec. All sources are first moved above the
/// targets, so that no dup2 meets itself (which would keep it
/// close-on-exec) or overwrites a source not yet placed.
pub fn place_fds_in_child(cmd: &mut Command, pairs: Vec<(std::os::fd::RawFd, std::os::fd::RawFd)>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: only async-signal-safe calls (fcntl, dup2, close) run between
    // fork and exec; the vectors are allocated before the fork.
    unsafe {
        let mut high = Vec::with_capacity(pairs.len());
        cmd.pre_exec(move || {
            high.clear();
            for (source, _) in &pairs {
                let fd = libc::fcntl(*source, libc::F_DUPFD, 100);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                high.push(fd);
            }
            for (fd, (_, target)) in high.iter().zip(&pairs) {
                if libc::dup2(*fd, *target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for fd in &high {
                libc::close(*fd);
            }
            Ok(())
        });
    }
}
