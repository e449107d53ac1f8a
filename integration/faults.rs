//! Faults around husk: a full or read-only state directory, husk killed at
//! every phase of create, start, exec and delete that `--debug` prints,
//! deletes and kills racing on one container, and husk in a memory cgroup
//! too small for it. Each either fails with a one-line error or leaves a
//! container that `delete --force` removes; after it, nothing is left (the
//! harness checks state, mounts and processes; these tests the cgroups).
//!
//! The tmpfs state directories are mounted in a mount namespace of the
//! test's own (`unshare -m`, private propagation), where husk runs too:
//! nothing is mounted on the host.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `script` with sh in a new mount namespace; $HUSK, $BUNDLE and
/// $TMPFS (a directory to mount on) are set. Returns (code, stdout, stderr).
fn in_private_mount_ns(b: &Bundle, script: &str) -> (i32, String, String) {
    let tmpfs = b.dir.join("tmpfs");
    std::fs::create_dir_all(&tmpfs).unwrap();
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-euc", script])
        .env("HUSK", HUSK)
        .env("BUNDLE", &b.dir)
        .env("TMPFS", &tmpfs);
    let out = b.output_of(cmd);
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// The one error line of husk's stderr, or a failure naming what it got.
fn one_error_line(stderr: &str) -> String {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("level=error")).collect();
    assert_eq!(errors.len(), 1, "not one error line: {stderr:?}");
    errors[0].to_string()
}

#[test]
fn state_directory_on_a_full_tmpfs() {
    // A 128 KiB tmpfs filled with 4 KiB files, then k of them removed
    // again (k = 0..=4): husk runs out of space at the container's
    // directory, at exec.json or at state.json, depending on k. Each create
    // fails with the file named and ENOSPC and leaves nothing, or succeeds
    // and delete --force removes it. Then a tmpfs with no inode left.
    let mut b = Bundle::new(&["sleep", "100"]);
    let ids: Vec<String> = (0..=5).map(|k| b.id(&format!("full{k}"))).collect();
    let script = r#"mount -t tmpfs -o size=128k tmpfs "$TMPFS"
        mkdir "$TMPFS/root"
        i=0
        while dd if=/dev/zero of="$TMPFS/f$i" bs=4k count=1 2>/dev/null; do i=$((i+1)); done
        for k in 0 1 2 3 4; do
            [ $k = 0 ] || rm "$TMPFS/f$((i-k))"
            if "$HUSK" --root "$TMPFS/root" create -b "$BUNDLE" "full$k-$TAG" >/dev/null; then echo "k=$k created"; fi
            echo "k=$k left: $(ls -A "$TMPFS/root")"
            "$HUSK" --root "$TMPFS/root" delete --force "full$k-$TAG" && echo "k=$k deleted: $(ls -A "$TMPFS/root")"
        done
        umount "$TMPFS"
        mount -t tmpfs -o size=1m,nr_inodes=3 tmpfs "$TMPFS"
        mkdir "$TMPFS/root"
        : > "$TMPFS/fill"
        if "$HUSK" --root "$TMPFS/root" create -b "$BUNDLE" "full5-$TAG" >/dev/null; then echo "k=5 created"; fi
        echo "k=5 left: $(ls -A "$TMPFS/root")"
        "$HUSK" --root "$TMPFS/root" delete --force "full5-$TAG" && echo "k=5 deleted: $(ls -A "$TMPFS/root")""#;
    let tag = ids[0].strip_prefix("full0-").unwrap().to_string();
    let script = script.replace("$TAG", &tag);
    let (code, stdout, stderr) = in_private_mount_ns(&b, &script);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("level=error")).collect();
    let created = stdout.matches(" created").count();
    assert_eq!(errors.len() + created, 6, "one error line per failed create: {stdout}\n{stderr}");
    for k in 0..=5 {
        let created = stdout.contains(&format!("k={k} created"));
        assert!(created || stdout.contains(&format!("k={k} left: \n")), "k={k}: state left by a failed create: {stdout}");
        assert!(stdout.contains(&format!("k={k} deleted: \n")), "k={k}: {stdout}\n{stderr}");
    }
    for line in &errors {
        assert!(line.contains("No space left on device"), "{line}");
        assert!(line.contains("root/full"), "the error names no file: {line}");
    }
    assert!(
        errors.iter().any(|l| l.contains("state.json") || l.contains("exec.json")),
        "no create ran out of space writing a state file: {errors:?}"
    );
    assert!(!stdout.contains("k=5 created") && !stdout.contains("k=0 created"), "{stdout}");
    for id in &ids {
        assert_no_cgroup(id);
    }
}

#[test]
fn read_only_state_directory() {
    // --root on a read-only mount: create fails clearly. And a container
    // made while it was writable: delete --force on the read-only root
    // fails clearly too, and succeeds once it is writable again.
    let mut b = Bundle::new(&["sleep", "100"]);
    let (fresh, made) = (b.id("rofresh"), b.id("romade"));
    let script = format!(
        r#"mount -t tmpfs tmpfs "$TMPFS"
        mkdir "$TMPFS/root"
        "$HUSK" --root "$TMPFS/root" run -d -b "$BUNDLE" {made} </dev/null >/dev/null 2>&1
        mount -o remount,ro "$TMPFS"
        if "$HUSK" --root "$TMPFS/root" create -b "$BUNDLE" {fresh} 2>&1 >/dev/null; then echo created; fi
        if "$HUSK" --root "$TMPFS/root" delete --force {made} 2>&1; then echo deleted-ro; fi
        mount -o remount,rw "$TMPFS"
        "$HUSK" --root "$TMPFS/root" delete --force {made} && echo deleted
        echo "left: $(ls -A "$TMPFS/root")""#
    );
    let (code, stdout, stderr) = in_private_mount_ns(&b, &script);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(!stdout.contains("created") && !stdout.contains("deleted-ro"), "{stdout}");
    assert!(stdout.contains("deleted\n") && stdout.contains("left: \n"), "{stdout}\n{stderr}");
    let errors: Vec<&str> = stdout.lines().filter(|l| l.contains("level=error")).collect();
    assert_eq!(errors.len(), 2, "{stdout}");
    assert!(errors.iter().all(|l| l.contains("Read-only file system") && l.contains("root/")), "{errors:?}");
    assert_no_cgroup(&made);
}

/// husk --debug ARGS for the bundle; SIGKILLed as its `line`th debug line
/// (0-based) appears. Returns the lines seen, and whether it was killed
/// (false: it ended first).
fn kill_at_line(b: &Bundle, args: &[&str], line: usize) -> (Vec<String>, bool) {
    let mut cmd = b.husk_cmd(&[&["--debug"][..], args].concat());
    // The container keeps husk's stderr: the pipe is read by a thread that
    // outlives the kill, and only ever sends.
    let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stderr).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let mut killed = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(l) => {
                let is_debug = l.contains("level=debug");
                seen.push(l);
                if is_debug && seen.iter().filter(|l| l.contains("level=debug")).count() == line + 1 {
                    // The pid is husk's own: the test started it.
                    killed = child.try_wait().unwrap().is_none();
                    let _ = child.kill();
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    child.wait().unwrap();
    (seen, killed)
}

/// How many debug lines a whole (unkilled) run of `args` prints.
fn debug_lines(b: &Bundle, args: &[&str]) -> usize {
    let (seen, _) = kill_at_line(b, args, usize::MAX - 1);
    seen.iter().filter(|l| l.contains("level=debug")).count()
}

/// After a killed verb: `delete --force` succeeds and leaves nothing of
/// the container (state, processes rooted in the bundle, cgroups).
fn assert_recovers(b: &Bundle, id: &str, what: &str) {
    let out = b.husk(&["delete", "--force", id]);
    assert!(out.status.success(), "{what}: delete --force: {}", text(&out.stderr));
    assert!(!b.root.join(id).exists(), "{what}: state left");
    wait_until(&format!("{what}: the container's processes to go"), || processes_rooted_in(&b.dir).is_empty());
    assert_no_cgroup(id);
}

/// What a verb needs made before it runs.
type Setup = fn(&mut Bundle, &str);

#[test]
fn husk_killed_at_every_phase_of_create_start_exec_and_delete() {
    let mut b = Bundle::new(&["sleep", "100"]);
    let mut tally = Vec::new();
    let verbs: [(&str, Setup); 4] = [
        ("create", |_, _| {}),
        ("start", |b, id| assert!(b.husk(&["create", id]).status.success())),
        ("exec", |b, id| assert!(b.husk(&["run", "-d", id]).status.success())),
        ("delete", |b, id| assert!(b.husk(&["run", "-d", id]).status.success())),
    ];
    for (verb, setup) in verbs {
        let args = |id: &str| -> Vec<String> {
            match verb {
                "exec" => vec!["exec".into(), id.into(), "sleep".into(), "1".into()],
                "delete" => vec!["delete".into(), "--force".into(), id.into()],
                _ => vec![verb.into(), id.into()],
            }
        };
        let id = b.id(&format!("{verb}-count"));
        setup(&mut b, &id);
        let owned = args(&id);
        let total = debug_lines(&b, &owned.iter().map(String::as_str).collect::<Vec<_>>());
        assert_recovers(&b, &id, &format!("{verb} unkilled"));
        assert!(total >= 3, "{verb}: only {total} debug lines");
        let mut killed_count = 0;
        for line in 0..total {
            let id = b.id(&format!("{verb}-k{line}"));
            setup(&mut b, &id);
            let owned = args(&id);
            let (seen, killed) = kill_at_line(&b, &owned.iter().map(String::as_str).collect::<Vec<_>>(), line);
            let what = format!("{verb} killed at debug line {line} ({:?})", seen.last().map(|l| l.split("msg=").nth(1).unwrap_or(l)));
            // Whatever the kill left must be what a container leaves: state
            // reads, or says it does not exist.
            let state = b.husk(&["state", &id]);
            let stderr = text(&state.stderr);
            assert!(
                state.status.success() || stderr.contains("does not exist"),
                "{what}: state after the kill: {stderr}"
            );
            assert_recovers(&b, &id, &what);
            killed_count += usize::from(killed);
        }
        tally.push(format!("{verb}: {total} debug lines, killed at {killed_count} of them"));
    }
    for line in &tally {
        eprintln!("{line}");
    }
}

#[test]
fn two_force_deletes_and_a_kill_race_on_one_container() {
    let mut b = Bundle::new(&["sleep", "100"]);
    for round in 0..10 {
        let id = b.run_detached(&format!("race{round}"));
        let spawn = |args: &[&str]| {
            b.husk_cmd(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
        };
        let racers = [
            spawn(&["delete", "--force", &id]),
            spawn(&["delete", "--force", &id]),
            spawn(&["kill", &id, "KILL"]),
        ];
        for (n, racer) in racers.into_iter().enumerate() {
            let out = racer.wait_with_output().unwrap();
            let stderr = text(&out.stderr);
            if !out.status.success() {
                // The loser of a race says why, in one line: the container
                // is gone or no longer running.
                let line = one_error_line(&stderr);
                assert!(
                    line.contains("does not exist") || line.contains("not running") || line.contains("stopped"),
                    "round {round}, racer {n}: {line}"
                );
            }
        }
        assert_recovers(&b, &id, &format!("round {round}"));
    }
}

#[test]
fn husk_in_a_memory_cgroup_too_small_for_it() {
    // A v1 memory cgroup of the test's own; husk is moved into it before it
    // execs (by the shell that runs it), with limits from too small for
    // husk to start to enough. Each create either succeeds or fails (the
    // OOM killer's SIGKILL, or an error), and delete --force, run outside,
    // removes what is left.
    let memory = Path::new("/sys/fs/cgroup/memory");
    if !memory.join("memory.limit_in_bytes").exists() {
        eprintln!("no cgroup v1 memory hierarchy here: skipped");
        return;
    }
    let mut b = Bundle::new(&["sleep", "100"]);
    let guard = OwnCgroup(memory.join(format!("husk-faults-{}", std::process::id())));
    let cgroup = guard.0.clone();
    std::fs::create_dir(&cgroup).unwrap();
    let mut outcomes = Vec::new();
    for limit in ["256K", "1M", "2M", "8M", "64M"] {
        std::fs::write(cgroup.join("memory.limit_in_bytes"), limit).unwrap();
        let id = b.id(&format!("mem{limit}"));
        let mut cmd = Command::new("sh");
        cmd.args(["-c", r#"echo $$ > "$CGROUP/cgroup.procs" && exec "$HUSK" --root "$ROOT" create "$ID""#])
            .env("CGROUP", &cgroup)
            .env("HUSK", HUSK)
            .env("ROOT", &b.root)
            .env("ID", &id);
        let out = b.output_of(cmd);
        let signal = std::os::unix::process::ExitStatusExt::signal(&out.status);
        let outcome = match out.status.code() {
            Some(0) => "created".to_string(),
            Some(code) => format!("exit {code}: {}", one_error_line(&text(&out.stderr))),
            None => format!("killed by signal {}", signal.unwrap_or(0)),
        };
        assert_recovers(&b, &id, &format!("limit {limit}: {outcome}"));
        outcomes.push(format!("{limit}: {outcome}"));
    }
    wait_until("the test's memory cgroup to empty", || {
        std::fs::read_to_string(cgroup.join("cgroup.procs")).is_ok_and(|p| p.trim().is_empty())
    });
    drop(guard);
    assert!(!cgroup.exists(), "the test's cgroup is left");
    eprintln!("{}", outcomes.join("\n"));
    assert!(outcomes.last().unwrap().ends_with("created"), "64M was not enough: {outcomes:?}");
    assert!(!outcomes[0].ends_with("created"), "256K was enough: the test shows nothing: {outcomes:?}");
}

/// A cgroup the test made, removed when it ends (a failed test's too).
struct OwnCgroup(std::path::PathBuf);

impl Drop for OwnCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
