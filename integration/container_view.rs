//! What the process inside sees: pid 1 and its own processes, its hostname,
//! its mounts and nothing of the host's, masked and read-only paths, and the
//! capabilities, ids, rlimits, oom score and no_new_privs the config set.

#[path = "common/mod.rs"]
mod common;
use common::*;

use serde_json::json;

/// The value of a `Key:\tvalue` line of /proc/self/status in `text`.
fn status_field<'a>(text: &'a str, key: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(':')))
        .map(str::trim)
        .unwrap_or_else(|| panic!("{key} missing in:\n{text}"))
}

/// The capability mask of a list of bit numbers.
fn mask(bits: &[u32]) -> String {
    format!("{:016x}", bits.iter().fold(0u64, |m, b| m | (1 << b)))
}

#[test]
fn pid_one_sees_only_its_processes_and_its_hostname() {
    let mut b = Bundle::new(&["sh", "-c", "echo pid=$$; hostname; sleep 10 & ls /proc | grep -c '^[0-9]'"]);
    b.config["hostname"] = "inside-box".into();
    b.write();
    let out = b.run_ok("view");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "pid=1");
    assert_eq!(lines[1], "inside-box");
    // The shell, the backgrounded sleep, ls and grep: at most 4 processes,
    // never the host's hundreds.
    let count: usize = lines[2].parse().unwrap();
    assert!((2..=4).contains(&count), "saw {count} processes");
}

#[test]
fn mounts_are_the_configured_ones_and_no_host_path_shows() {
    let mut b = Bundle::new(&["cat", "/proc/self/mountinfo"]);
    let host_dir = b.dir.join("shared");
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::write(host_dir.join("file"), "from the host").unwrap();
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "bind", "source": host_dir, "options": ["rbind", "ro", "nosuid"]
    }));
    b.config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nodev", "size=1m", "mode=700"]
    }));
    b.write();
    let out = b.run_ok("mounts");
    let mounts: Vec<(String, String, String)> = out
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let sep = f.iter().position(|x| *x == "-").unwrap();
            (f[4].to_string(), f[5].to_string(), f[sep + 1].to_string())
        })
        .collect();
    let find = |dest: &str| mounts.iter().find(|m| m.0 == dest).unwrap_or_else(|| panic!("{dest} not mounted:\n{out}"));
    for (dest, fstype) in [
        ("/", ""),
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
        ("/sys/fs/cgroup", ""),
        ("/scratch", "tmpfs"),
    ] {
        let m = find(dest);
        assert!(fstype.is_empty() || m.2 == fstype, "{dest}: {m:?}");
    }
    assert!(find("/").1.split(',').any(|o| o == "ro"), "readonly root");
    assert!(find("/sys").1.split(',').any(|o| o == "ro"));
    let data = find("/data").1.split(',').map(String::from).collect::<Vec<_>>();
    assert!(data.contains(&"ro".into()) && data.contains(&"nosuid".into()), "{data:?}");
    assert!(find("/scratch").1.contains("nodev"));
    // No mount point outside the container's tree is visible, and no mount
    // point names a host path.
    let bundle = b.dir.display().to_string();
    for (dest, ..) in &mounts {
        assert!(!dest.starts_with(&bundle) && !dest.starts_with("/tmp/husk-it"), "host path visible: {dest}");
    }
}

#[test]
fn masked_paths_are_unreadable_and_readonly_paths_readonly() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "cat /proc/keys /proc/timer_list | wc -c; ls /sys/firmware | wc -l; \
         echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo writable || echo readonly; \
         echo x > /proc/sysrq-trigger 2>/dev/null && echo writable || echo readonly",
    ]);
    b.config["process"]["capabilities"]["bounding"] = json!(["CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"]);
    b.config["process"]["capabilities"]["effective"] = json!(["CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"]);
    b.config["process"]["capabilities"]["permitted"] = json!(["CAP_SYS_ADMIN", "CAP_DAC_OVERRIDE"]);
    b.write();
    let out = b.run_ok("masked");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["0", "0", "readonly", "readonly"], "{out}");
}

#[test]
fn capabilities_ids_limits_and_no_new_privs_are_as_configured() {
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/self/status; echo limits; cat /proc/self/limits; cat /proc/self/oom_score_adj"]);
    let p = &mut b.config["process"];
    p["user"] = json!({"uid": 1000, "gid": 1000, "additionalGids": [5, 100]});
    p["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "inheritable": ["CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"]
    });
    p["rlimits"] = json!([
        {"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
    ]);
    p["oomScoreAdj"] = 345.into();
    p["noNewPrivileges"] = true.into();
    b.write();
    let out = b.run_ok("caps");
    // CAP_CHOWN 0, CAP_KILL 5, CAP_NET_BIND_SERVICE 10. For a non-root user,
    // execve keeps only the ambient set in the permitted and effective sets
    // (capabilities(7)); that ambient survives exec is what shows here.
    assert_eq!(status_field(&out, "CapBnd"), mask(&[0, 5, 10]));
    assert_eq!(status_field(&out, "CapEff"), mask(&[10]));
    assert_eq!(status_field(&out, "CapPrm"), mask(&[10]));
    assert_eq!(status_field(&out, "CapInh"), mask(&[10]));
    assert_eq!(status_field(&out, "CapAmb"), mask(&[10]));
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
    assert_eq!(status_field(&out, "Uid").split_whitespace().collect::<Vec<_>>(), ["1000"; 4]);
    assert_eq!(status_field(&out, "Gid").split_whitespace().collect::<Vec<_>>(), ["1000"; 4]);
    assert_eq!(status_field(&out, "Groups"), "5 100");
    let nofile = out.lines().find(|l| l.starts_with("Max open files")).unwrap();
    assert_eq!(nofile.split_whitespace().collect::<Vec<_>>()[3..5], ["321", "654"]);
    let core = out.lines().find(|l| l.starts_with("Max core file size")).unwrap();
    assert_eq!(core.split_whitespace().collect::<Vec<_>>()[4..6], ["0", "0"]);
    assert_eq!(out.lines().last().unwrap(), "345");
}

#[test]
fn no_new_privs_off_when_not_asked() {
    let mut b = Bundle::new(&["grep", "NoNewPrivs", "/proc/self/status"]);
    b.config["process"]["noNewPrivileges"] = false.into();
    b.write();
    assert_eq!(status_field(&b.run_ok("nnp"), "NoNewPrivs"), "0");
}

#[test]
fn env_cwd_and_umask() {
    let mut b = Bundle::new(&["sh", "-c", "pwd; echo $GREETING; echo $HOME; umask"]);
    b.config["process"]["env"] = json!(["PATH=/bin", "GREETING=hello there"]);
    b.config["process"]["cwd"] = "/tmp".into();
    b.config["process"]["user"]["umask"] = 0o027.into();
    b.write();
    let out = b.run_ok("env");
    assert_eq!(out.lines().collect::<Vec<_>>(), ["/tmp", "hello there", "/root", "0027"]);
}

#[test]
fn sysctl_and_devices() {
    let mut b = Bundle::new(&["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward; ls -l /dev/null /dev/zero /dev/full /dev/tty /dev/random /dev/urandom /dev/ptmx /dev/fd /dev/stdin /dev/mydev | awk '{print $1, $NF}'"]);
    b.config["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    b.config["linux"]["devices"] = json!([{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3, "fileMode": 0o640, "uid": 0, "gid": 0}]);
    b.write();
    let out = b.run_ok("sysctl");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1");
    assert!(lines.contains(&"crw-rw-rw- /dev/null"), "{out}");
    assert!(lines.contains(&"crw-r----- /dev/mydev"), "{out}");
    assert!(lines.contains(&"lrwxrwxrwx pts/ptmx"), "{out}");
    assert!(lines.contains(&"lrwxrwxrwx /proc/self/fd"), "{out}");
    assert!(lines.contains(&"lrwxrwxrwx /proc/self/fd/0"), "{out}");
}

#[test]
fn no_pivot_gives_the_same_view() {
    let mut b = Bundle::new(&["sh", "-c", "hostname; ls /"]);
    let id = b.id("nopivot");
    let out = b.husk(&["run", "--no-pivot", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    assert!(listing.contains("bin") && listing.contains("proc") && !listing.contains("state"), "{listing}");
}

#[test]
fn session_keyring_is_new_unless_asked() {
    // /proc/keys is masked by default; unmask it to read the keyrings.
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["maskedPaths"] = json!([]);
    b.write();
    for (flags, expected) in [(vec![], "1"), (vec!["--no-new-keyring"], "0")] {
        // A distinct id each time: a dead keyring lingers in /proc/keys
        // until the kernel collects it.
        let id = b.id(&format!("keyring{expected}"));
        b.config["process"]["args"] = json!(["sh", "-c", format!("grep -c '_ses.{id}' /proc/keys")]);
        b.write();
        let mut args = vec!["run"];
        args.extend(flags);
        args.push(&id);
        let out = b.husk(&args);
        assert_eq!(text(&out.stdout).trim(), expected, "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn root_capabilities_equal_the_configured_sets() {
    let mut b = Bundle::new(&["grep", "^Cap", "/proc/self/status"]);
    let set = json!(["CAP_CHOWN", "CAP_KILL"]);
    b.config["process"]["capabilities"] = json!({"bounding": set, "effective": set, "permitted": set});
    b.write();
    let out = b.run_ok("rootcaps");
    for key in ["CapBnd", "CapEff", "CapPrm"] {
        assert_eq!(status_field(&out, key), mask(&[0, 5]), "{key}");
    }
    assert_eq!(status_field(&out, "CapAmb"), mask(&[]));
}

#[test]
fn without_a_terminal_init_and_exec_lead_sessions_of_their_own() {
    // runc's init and exec'd processes call setsid whatever the terminal
    // (nsexec stage 2); CRIU refuses to dump a container whose init's
    // session leader is outside its pid namespace (criu/cr-dump.c).
    // Fields 6 and 7 of /proc/PID/stat: the session and the controlling tty.
    let mut b = Bundle::new(&["sh", "-c", "cut -d' ' -f6,7 /proc/1/stat"]);
    b.write();
    assert_eq!(b.run_ok("session-init").trim(), "1 0", "the init leads its own session, without a terminal");

    let mut b = Bundle::new(&["sleep", "30"]);
    b.write();
    let id = b.run_detached("session-exec");
    let (code, stdout, stderr) = b.exec(&[&id, "sh", "-c", "echo $$ $(cut -d' ' -f6,7 /proc/$$/stat)"]);
    let out = b.husk(&["delete", "--force", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    assert_eq!(code, 0, "exec: {stderr}");
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(fields.len(), 3, "{stdout}");
    assert_eq!(fields[0], fields[1], "the exec'd process leads its own session: {stdout}");
    assert_eq!(fields[2], "0", "and has no controlling terminal: {stdout}");
    b.assert_clean();
}

/// A caller that ignores or blocks signals (a shell's `trap ''`, a
/// supervisor's mask) passes neither to husk nor to the container: its
/// process and an exec'd one start with none ignored and none blocked.
#[test]
fn signals_the_caller_ignored_or_blocked_are_default_in_the_container() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.write();
    let id = b.id("signals");
    // The shell ignores PIPE, USR1 and CHLD and execs husk with them so.
    let wrapped = |args: &[&str]| {
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "trap '' PIPE USR1 CHLD HUP; exec \"$0\" \"$@\"", HUSK, "--root"]).arg(&b.root).args(args);
        b.output_of(cmd)
    };
    let pid_file = b.dir.join("pid");
    let out = wrapped(&["run", "-d", "--pid-file", pid_file.to_str().unwrap(), &id]);
    assert!(out.status.success(), "run -d: {}", text(&out.stderr));
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let init = std::fs::read_to_string(format!("/proc/{}/status", pid.trim())).unwrap();
    assert_eq!(status_field(&init, "SigIgn"), "0000000000000000", "the init: {init}");
    assert_eq!(status_field(&init, "SigBlk"), "0000000000000000", "the init: {init}");
    let exec = wrapped(&["exec", &id, "grep", "-E", "^Sig(Ign|Blk)", "/proc/self/status"]);
    assert!(exec.status.success(), "exec: {}", text(&exec.stderr));
    let exec_text = text(&exec.stdout);
    assert_eq!(status_field(&exec_text, "SigIgn"), "0000000000000000", "{exec_text}");
    assert_eq!(status_field(&exec_text, "SigBlk"), "0000000000000000", "{exec_text}");
    let out = b.husk(&["delete", "--force", &id]);
    assert!(out.status.success(), "delete: {}", text(&out.stderr));
    b.assert_clean();
}
