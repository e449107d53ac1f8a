//! husk's D-Bus client (src/systemd/) against a real bus daemon: a private
//! dbus-daemon started by the test (this host has no systemd). It connects,
//! authenticates, says Hello and lists names; calling systemd there fails
//! with the bus's "service unknown"; and with a stand-in for systemd's
//! manager on that bus (a thread owning org.freedesktop.systemd1), a
//! transient unit's job is waited for through its JobRemoved signal, a
//! failed job names its result, a job that never ends times out, and a
//! missing unit reads as absent. The real systemd is the VM's part
//! (integration/systemd_vm.rs).
//!
//! Needs dbus-daemon (package dbus-daemon; .ci/run installs it).

#[allow(dead_code)]
#[path = "../src/systemd/mod.rs"]
mod systemd;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use systemd::SystemdError;
use systemd::bus::{Bus, Call, ERROR, METHOD_CALL, METHOD_RETURN, Message, Outgoing, SIGNAL};
use systemd::manager::{Manager, Property};
use systemd::wire::Value;

/// A private bus: its daemon, config and socket in a temporary directory.
struct PrivateBus {
    daemon: Child,
    dir: PathBuf,
    address: String,
}

impl PrivateBus {
    fn start(tag: &str) -> PrivateBus {
        let dir = std::env::temp_dir().join(format!("husk-bus-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("socket");
        let config = format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
            socket.display()
        );
        std::fs::write(dir.join("bus.conf"), config).unwrap();
        // The address is printed once the daemon listens: the socket file
        // alone appears at bind(), before connections are accepted.
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", dir.join("bus.conf").display()))
            .arg("--nofork")
            .arg("--print-address")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dbus-daemon (apt-get install dbus-daemon; .ci/run does)");
        let mut printed = String::new();
        let stdout = daemon.stdout.take().expect("piped");
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut printed).expect("read dbus-daemon's address");
        let bus = PrivateBus { daemon, dir, address: format!("unix:path={}", socket.display()) };
        assert!(printed.contains(&bus.address), "dbus-daemon printed {printed:?}, not {}", bus.address);
        bus
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn dbus_call<'a>(member: &'a str, args: Vec<Value>) -> Call<'a> {
    Call { destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member, args }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

#[test]
fn hello_list_names_and_no_systemd_on_a_private_bus() {
    let bus = PrivateBus::start("hello");
    let mut manager = Manager::connect(&bus.address).unwrap();
    let me = manager.unique_name().to_string();
    assert!(me.starts_with(':'), "unique name {me:?}");

    let reply = manager
        .call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ListNames", vec![])
        .unwrap();
    let Some(Value::Array(_, names)) = reply.body.first() else { panic!("ListNames replied {:?}", reply.body) };
    let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
    assert!(names.contains(&"org.freedesktop.DBus") && names.contains(&me.as_str()), "{names:?}");

    let err = manager.start_transient_unit("husk-test.scope", "replace", &[], &[]).unwrap_err();
    let socket = bus.dir.join("socket");
    assert_eq!(
        err.to_string(),
        format!("systemd: not running on the bus {}: nobody owns org.freedesktop.systemd1 there", socket.display())
    );
}

/// husk itself on a bus without systemd (DBUS_SYSTEM_BUS_ADDRESS pointing
/// at the private bus): `--systemd-cgroup run` fails in one line saying
/// so, and leaves no state directory.
#[test]
fn husk_on_a_bus_without_systemd_says_so() {
    let bus = PrivateBus::start("husk-run");
    let bundle = bus.dir.join("bundle");
    std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
    let husk = env!("CARGO_BIN_EXE_husk");
    let spec = Command::new(husk).args(["spec", "--bundle"]).arg(&bundle).output().unwrap();
    assert!(spec.status.success(), "husk spec: {}", String::from_utf8_lossy(&spec.stderr));
    let root = bus.dir.join("state");
    let out = Command::new(husk)
        .arg("--root")
        .arg(&root)
        .args(["--systemd-cgroup", "run", "--bundle"])
        .arg(&bundle)
        .arg(format!("nosd-{}", std::process::id()))
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "run succeeded without systemd");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("systemd: not running on the bus ") && stderr.contains("org.freedesktop.systemd1"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(&root).map(|d| d.flatten().map(|e| e.file_name()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "state left: {left:?}");
}

#[test]
fn an_unreachable_bus_is_one_line_naming_its_socket() {
    let dir = std::env::temp_dir().join(format!("husk-bus-none-{}", std::process::id()));
    let err = Manager::connect(&format!("unix:path={}/socket", dir.display())).err().expect("connected to nothing");
    assert_eq!(err.to_string(), format!("systemd: bus {}/socket not reachable: No such file or directory", dir.display()));
    // A socket nobody listens on.
    let bus = PrivateBus::start("refused");
    let stale = bus.dir.join("stale");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    let err = Manager::connect(&format!("unix:path={}", stale.display())).err().expect("connected to a closed socket");
    assert_eq!(err.to_string(), format!("systemd: bus {} not reachable: Connection refused", stale.display()));
}

/// What the stand-in manager does with each unit name.
fn job_result(unit: &str) -> Option<&'static str> {
    match unit {
        "ok.scope" => Some("done"),
        "bad.scope" => Some("failed"),
        _ => None, // "hang.scope": the job never ends
    }
}

/// Serves systemd's manager on the private bus until told to stop (by a
/// call to `Quit`): StartTransientUnit and StopUnit reply with a job path,
/// then send its JobRemoved, the signal first for one in two jobs (the
/// client must keep a signal that comes before the reply); GetUnit and
/// StopUnit know only "ok.scope" once started.
fn fake_systemd(address: String, started: std::sync::mpsc::Sender<()>) -> Vec<Message> {
    let mut bus = Bus::connect(&address, Duration::from_secs(10)).unwrap();
    let reply = bus.call(&dbus_call("RequestName", vec![Value::str("org.freedesktop.systemd1"), Value::U32(4)]), soon()).unwrap();
    assert_eq!(reply.body, [Value::U32(1)], "not the primary owner");
    started.send(()).unwrap();
    let mut calls = Vec::new();
    let mut units: Vec<String> = Vec::new();
    let mut job = 0;
    loop {
        let msg = bus.next_message(Instant::now() + Duration::from_secs(60)).unwrap();
        if msg.kind != METHOD_CALL {
            continue;
        }
        calls.push(msg.clone());
        let unit = msg.body.first().and_then(Value::as_str).unwrap_or_default().to_string();
        let sender = msg.sender.clone();
        let reply = |bus: &mut Bus, args: Vec<Value>| {
            let out = Outgoing { kind: METHOD_RETURN, destination: sender.as_deref(), reply_serial: Some(msg.serial), args, ..Outgoing::default() };
            bus.send_message(out).unwrap();
        };
        let error = |bus: &mut Bus, name: &str, text: &str| {
            let out = Outgoing {
                kind: ERROR,
                destination: sender.as_deref(),
                error_name: Some(name),
                reply_serial: Some(msg.serial),
                args: vec![Value::str(text)],
                ..Outgoing::default()
            };
            bus.send_message(out).unwrap();
        };
        match msg.member.as_deref().unwrap_or_default() {
            "Quit" => {
                reply(&mut bus, vec![]);
                return calls;
            }
            member @ ("StartTransientUnit" | "StopUnit") => {
                if member == "StopUnit" && !units.contains(&unit) {
                    error(&mut bus, "org.freedesktop.systemd1.NoSuchUnit", &format!("Unit {unit} not loaded."));
                    continue;
                }
                job += 1;
                let path = format!("/org/freedesktop/systemd1/job/{job}");
                let removed = |bus: &mut Bus, result: &str| {
                    let out = Outgoing {
                        kind: SIGNAL,
                        path: Some("/org/freedesktop/systemd1"),
                        interface: Some("org.freedesktop.systemd1.Manager"),
                        member: Some("JobRemoved"),
                        args: vec![Value::U32(job), Value::ObjectPath(path.clone()), Value::str(&unit), Value::str(result)],
                        ..Outgoing::default()
                    };
                    bus.send_message(out).unwrap();
                };
                let result = job_result(&unit);
                match result {
                    Some(result) if job % 2 == 0 => {
                        removed(&mut bus, result);
                        reply(&mut bus, vec![Value::ObjectPath(path.clone())]);
                    }
                    _ => {
                        reply(&mut bus, vec![Value::ObjectPath(path.clone())]);
                        if let Some(result) = result {
                            removed(&mut bus, result);
                        }
                    }
                }
                if member == "StartTransientUnit" && result == Some("done") {
                    units.push(unit);
                } else if member == "StopUnit" {
                    units.retain(|u| *u != unit);
                }
            }
            "GetUnit" if units.contains(&unit) => {
                // systemd's escaping: an object path holds only [A-Za-z0-9_].
                let escaped: String =
                    unit.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("_{b:02x}") }).collect();
                reply(&mut bus, vec![Value::ObjectPath(format!("/org/freedesktop/systemd1/unit/{escaped}"))])
            }
            "GetUnit" => error(&mut bus, "org.freedesktop.systemd1.NoSuchUnit", &format!("Unit {unit} not loaded.")),
            "SetUnitProperties" => reply(&mut bus, vec![]),
            other => error(&mut bus, "org.freedesktop.DBus.Error.UnknownMethod", &format!("no {other}")),
        }
    }
}

#[test]
fn jobs_are_waited_for_through_job_removed() {
    let bus = PrivateBus::start("jobs");
    let (started_tx, started) = std::sync::mpsc::channel();
    let address = bus.address.clone();
    let server = std::thread::spawn(move || fake_systemd(address, started_tx));
    started.recv_timeout(Duration::from_secs(10)).expect("the stand-in systemd owns its name");

    let mut manager = Manager::connect(&bus.address).unwrap().with_timeout(Duration::from_secs(2));
    let props = [
        Property::new("PIDs", Value::u32_array(&[std::process::id()])),
        Property::new("Delegate", Value::Bool(true)),
        Property::new("MemoryMax", Value::U64(64 << 20)),
        Property::new("AllowedCPUs", Value::bytes(&[1])),
        Property::new("DeviceAllow", Value::str_pairs(&[("/dev/null", "rwm")])),
    ];
    assert!(!manager.unit_exists("ok.scope").unwrap());
    manager.start_transient_unit("ok.scope", "replace", &props, &[]).unwrap();
    assert!(manager.unit_exists("ok.scope").unwrap());
    manager.set_unit_properties("ok.scope", true, &[Property::new("TasksMax", Value::U64(9))]).unwrap();
    let err = manager.start_transient_unit("bad.scope", "replace", &props, &[]).unwrap_err();
    assert_eq!(err.to_string(), "systemd: StartTransientUnit bad.scope: the job ended with result \"failed\"");
    assert!(manager.stop_unit("ok.scope", "replace").unwrap(), "ok.scope was there");
    assert!(!manager.stop_unit("ok.scope", "replace").unwrap(), "ok.scope is gone");
    assert!(!manager.unit_exists("ok.scope").unwrap());

    let started_at = Instant::now();
    let err = manager.start_transient_unit("hang.scope", "replace", &[], &[]).unwrap_err();
    assert!(matches!(err, SystemdError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("timed out waiting for the end of StartTransientUnit hang.scope"), "{err}");
    assert!(started_at.elapsed() < Duration::from_secs(5), "the timeout is 2 s");

    manager.call("org.freedesktop.systemd1", "/org/freedesktop/systemd1", "org.freedesktop.systemd1.Manager", "Quit", vec![]).unwrap();
    let calls = server.join().unwrap();
    // The properties reached the bus as systemd would read them.
    let start = calls.iter().find(|c| c.member.as_deref() == Some("StartTransientUnit")).unwrap();
    assert_eq!(start.body[0], Value::str("ok.scope"));
    assert_eq!(start.body[1], Value::str("replace"));
    let Value::Array(sig, sent) = &start.body[2] else { panic!("{:?}", start.body) };
    assert_eq!(sig, "(sv)");
    let sent: Vec<(String, Value)> = sent
        .iter()
        .map(|p| match p {
            Value::Struct(f) => match (&f[0], &f[1]) {
                (Value::Str(n), Value::Variant(v)) => (n.clone(), (**v).clone()),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        })
        .collect();
    let expected: Vec<(String, Value)> = props.iter().map(|p| (p.name.clone(), p.value.clone())).collect();
    assert_eq!(sent, expected);
    assert_eq!(start.body[3], Value::Array("(sa(sv))".into(), vec![]));
    assert!(Path::new(&bus.dir).exists());
}
