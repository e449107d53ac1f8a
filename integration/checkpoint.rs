//! `checkpoint` and `restore` where no working CRIU is needed: every
//! refusal (no criu, a container in the wrong state, bad flags, an image
//! directory that is missing or empty, an id that exists; another
//! container's images only warned about) and CRIU failing (`testdata/fake-criu.py`, which speaks the RPC
//! only to fail), each a one-line error with nothing left behind. The real
//! dumps and restores run in the systemd VM, whose criu works on its
//! kernel (Debian's 3.17 fails `criu check` on this host's 6.18).

mod common;

use std::path::{Path, PathBuf};

use common::{Bundle, assert_no_cgroup, text};

fn fake_criu() -> PathBuf {
    common::repo().join("integration/testdata/fake-criu.py")
}

/// husk with `--criu` and FAKE_CRIU set.
fn husk_with_criu(b: &Bundle, criu: &Path, mode: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--criu", criu.to_str().unwrap()];
    all.extend_from_slice(args);
    b.husk_env(&[("FAKE_CRIU", mode)], &all)
}

/// The one line of a failed command, with its exit code 1.
fn error_line(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(1), "stdout {} stderr {}", text(&out.stdout), text(&out.stderr));
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.contains("level=warn")).collect();
    assert_eq!(lines.len(), 1, "one error line expected: {stderr}");
    assert!(lines[0].contains(" level=error "), "not an error line: {}", lines[0]);
    common::unquote_msg(lines[0]).unwrap_or_else(|| panic!("no msg in {}", lines[0]))
}

/// Nothing of container `id`: no state, no cgroup.
fn assert_gone(b: &Bundle, id: &str) {
    assert!(!b.root.join(id).exists(), "state of {id} left behind");
    assert_no_cgroup(id);
}

fn running(b: &mut Bundle, name: &str) -> String {
    let id = b.run_detached(name);
    assert_eq!(b.state(&id)["status"], "running");
    id
}

/// An image directory that looks like CRIU's, recorded as `owner`'s.
fn fake_images(b: &Bundle, name: &str, owner: Option<&str>) -> PathBuf {
    let dir = b.dir.join(name);
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("inventory.img"), b"").unwrap();
    std::fs::write(dir.join("descriptors.json"), br#"["/dev/null","/dev/null","/dev/null"]"#).unwrap();
    if let Some(owner) = owner {
        std::fs::write(dir.join("husk-checkpoint.json"), format!(r#"{{"id":"{owner}"}}"#)).unwrap();
    }
    dir
}

#[test]
fn without_criu_both_verbs_fail_in_runcs_words() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    let id = running(&mut b, "nocriu");
    let out = b.husk_env(&[("PATH", "/nonexistent")], &["checkpoint", &id]);
    assert_eq!(error_line(&out), "CRIU version check failed: exec: \"criu\": executable file not found in $PATH");
    assert_eq!(b.state(&id)["status"], "running", "a failed checkpoint leaves the container running");
    assert!(!b.dir.join("checkpoint").exists(), "nothing made before criu was found");

    let out = b.husk(&["--criu", "/nonexistent/criu", "checkpoint", &id]);
    let line = error_line(&out);
    assert!(line.starts_with("CRIU version check failed: fork/exec /nonexistent/criu: "), "{line}");

    let images = fake_images(&b, "images", None);
    let restored = b.id("restored");
    let out = b.husk_env(&[("PATH", "/nonexistent")], &["restore", "-d", "--image-path", images.to_str().unwrap(), &restored]);
    assert_eq!(error_line(&out), "CRIU version check failed: exec: \"criu\": executable file not found in $PATH");
    assert_gone(&b, &restored);
}

#[test]
fn only_a_running_or_paused_container_is_checkpointed() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    let created = b.id("created");
    assert!(b.husk(&["create", &created]).status.success());
    let out = b.husk(&["checkpoint", &created]);
    assert_eq!(error_line(&out), "Container cannot be checkpointed in created state");

    let paused = running(&mut b, "paused");
    assert!(b.husk(&["pause", &paused]).status.success());
    // A paused container is checkpointed, as runc checkpoints one (ctr
    // pauses the task first): the refusal here is CRIU's absence, not the
    // state.
    let out = b.husk_env(&[("PATH", "/nonexistent")], &["checkpoint", &paused]);
    assert_eq!(error_line(&out), "CRIU version check failed: exec: \"criu\": executable file not found in $PATH");
    assert!(b.husk(&["resume", &paused]).status.success());

    let mut stopped_bundle = Bundle::new(&["true"]);
    let stopped = stopped_bundle.id("stopped");
    let out = stopped_bundle.husk(&["run", "--keep", &stopped]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = stopped_bundle.husk(&["checkpoint", &stopped]);
    assert_eq!(error_line(&out), "Container cannot be checkpointed in stopped state");

    let out = b.husk(&["checkpoint", "no-such-container"]);
    assert_eq!(error_line(&out), "container \"no-such-container\" does not exist");
    assert!(!b.dir.join("checkpoint").exists());
}

#[test]
fn bad_checkpoint_flags_are_refused_before_anything_is_made() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    let id = running(&mut b, "flags");
    let cases: &[(&[&str], &str)] = &[
        (&["--manage-cgroups-mode", "hard"], "Invalid manage-cgroups-mode value"),
        (&["--empty-ns", "pid"], "namespace \"pid\" is not supported"),
        (&["--page-server", "nohost"], "Use --page-server ADDRESS:PORT to specify page server"),
        (&["--page-server", "h:port"], "Invalid port number"),
        (&["--parent-path", "/abs"], "--parent-path must be relative"),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["checkpoint"];
        args.extend_from_slice(flags);
        args.push(&id);
        assert_eq!(&error_line(&husk_with_criu(&b, &fake_criu(), "fail", &args)), expected, "{flags:?}");
    }
    let out = husk_with_criu(&b, &fake_criu(), "fail", &["checkpoint", "--parent-path", "pre", &id]);
    let line = error_line(&out);
    assert!(line.starts_with(&format!("invalid --parent-path: stat {}/checkpoint/pre: ", b.dir.display())), "{line}");
    assert_eq!(b.state(&id)["status"], "running");
}

#[test]
fn an_old_or_dying_criu_is_a_clean_error() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    let id = running(&mut b, "oldcriu");
    let out = husk_with_criu(&b, &fake_criu(), "old", &["checkpoint", &id]);
    assert_eq!(error_line(&out), "CRIU version 20901 must be 30000 or higher");
    let out = husk_with_criu(&b, &fake_criu(), "exit1", &["checkpoint", &id]);
    assert_eq!(error_line(&out), "criu exited before answering (exit status: 1)");
    assert_eq!(b.state(&id)["status"], "running");

    let images = fake_images(&b, "images", None);
    let restored = b.id("restored");
    let out = husk_with_criu(&b, &fake_criu(), "exit1", &["restore", "-d", "--image-path", images.to_str().unwrap(), &restored]);
    assert_eq!(error_line(&out), "criu exited before answering (exit status: 1)");
    assert_gone(&b, &restored);
}

#[test]
fn a_failed_dump_leaves_the_container_running() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    let id = running(&mut b, "dumpfails");
    let images = b.dir.join("images");
    let out = husk_with_criu(&b, &fake_criu(), "fail", &["checkpoint", "--image-path", images.to_str().unwrap(), &id]);
    let expected = format!("criu failed: type DUMP errno 2 (fake criu: nothing done); see {}/dump.log", images.display());
    assert_eq!(error_line(&out), expected);
    assert_eq!(b.state(&id)["status"], "running");
    // What husk records beside CRIU's images: the init's stdio and whose
    // images they are.
    let descriptors: Vec<String> = serde_json::from_slice(&std::fs::read(images.join("descriptors.json")).unwrap()).unwrap();
    assert_eq!(descriptors.len(), 3);
    let owner: serde_json::Value = serde_json::from_slice(&std::fs::read(images.join("husk-checkpoint.json")).unwrap()).unwrap();
    assert_eq!(owner["id"], id.as_str());
}

#[test]
fn a_failed_restore_leaves_nothing_after_running_its_prestart_hook() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    let hook_out = b.dir.join("prestart.json");
    b.config["hooks"] = serde_json::json!({
        "prestart": [{"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {}", hook_out.display())]}]
    });
    b.write();
    let images = fake_images(&b, "images", None);
    let id = b.id("restorefails");
    // containerd's go-runc says `-no-subreaper`, Go's one-dash way.
    let restore = ["restore", "--detach", "-no-subreaper", "--image-path", images.to_str().unwrap(), &id];
    let out = husk_with_criu(&b, &fake_criu(), "fail", &restore);
    let expected = format!("criu failed: type RESTORE errno 2 (fake criu: nothing done); see {}/restore.log", images.display());
    assert_eq!(error_line(&out), expected);
    // The setup-namespaces notification ran the prestart hook, with the
    // pid criu named.
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&hook_out).unwrap()).unwrap();
    assert_eq!(state["id"], id.as_str());
    assert!(state["pid"].as_i64().unwrap() > 0, "{state}");
    assert_gone(&b, &id);
    b.assert_clean();
}

#[test]
fn restore_refuses_images_it_cannot_use() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    let id = b.id("badimages");
    let restore = |images: &Path| husk_with_criu(&b, &fake_criu(), "fail", &["restore", "-d", "--image-path", images.to_str().unwrap(), &id]);

    let missing = b.dir.join("missing");
    let line = error_line(&restore(&missing));
    assert_eq!(line, format!("--image-path {}: No such file or directory (os error 2)", missing.display()));
    assert!(!missing.exists(), "restore makes no image directory");

    let empty = b.dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(error_line(&restore(&empty)), format!("--image-path {} holds no checkpoint (no inventory.img)", empty.display()));

    // Another container's images (runc restores under any id, as after
    // --leave-running): a warning, then criu (failing here) is asked.
    let other = fake_images(&b, "other", Some("someone-else"));
    let out = restore(&other);
    let warning = format!("--image-path {} holds the checkpoint of container \\\"someone-else\\\": restoring it as \\\"{id}\\\"", other.display());
    assert!(text(&out.stderr).contains(&warning), "{}", text(&out.stderr));
    assert!(error_line(&out).starts_with("criu failed: type RESTORE errno 2"));
    assert_gone(&b, &id);
}

#[test]
fn restore_onto_an_existing_id_leaves_that_container_alone() {
    let mut b = Bundle::new(&["sleep", "1000"]);
    let id = running(&mut b, "taken");
    let pid = b.state(&id)["pid"].clone();
    let images = fake_images(&b, "images", Some(&id));
    let out = husk_with_criu(&b, &fake_criu(), "fail", &["restore", "-d", "--image-path", images.to_str().unwrap(), &id]);
    assert_eq!(error_line(&out), format!("container with id exists: {id}"));
    let state = b.state(&id);
    assert_eq!((state["status"].as_str(), &state["pid"]), (Some("running"), &pid));
}

#[test]
fn engines_see_checkpoint_support() {
    let b = Bundle::new(&["true"]);
    // podman probes `RUNTIME checkpoint --help`.
    for verb in ["checkpoint", "restore"] {
        let out = b.husk(&[verb, "--help"]);
        assert!(out.status.success(), "{verb} --help: {}", text(&out.stderr));
    }
    let out = b.husk(&["features"]);
    let features: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(features["annotations"]["org.opencontainers.runc.checkpoint.enabled"], "true");
}
