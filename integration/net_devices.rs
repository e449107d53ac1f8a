//! `linux.netDevices`: a host interface (one end of a veth pair: this kernel
//! has no dummy interfaces) moved into the container's network namespace,
//! renamed, its permanent global addresses kept and its state up, read from
//! inside with busybox's `ip`; the `%d` template; and the bad values, which
//! leave the interface where it was.
//!
//! Each test makes its own pair with names unique to the test process; the
//! pair goes with the container's network namespace (a veth end moved there
//! is destroyed with it, and its peer with it). What a failed test leaves
//! is removed by the guard.

mod common;
use common::*;

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static N: AtomicUsize = AtomicUsize::new(0);

/// A veth pair on the host, deleted on drop if it is still there.
struct Veth {
    name: String,
    peer: String,
}

impl Veth {
    fn new(addresses: &[&str]) -> Veth {
        let n = N.fetch_add(1, Ordering::SeqCst);
        let tag = format!("{}{n}", std::process::id() % 100_000);
        let veth = Veth { name: format!("hka{tag}"), peer: format!("hkb{tag}") };
        ip(&["link", "add", &veth.name, "type", "veth", "peer", "name", &veth.peer]);
        for address in addresses {
            ip(&["addr", "add", address, "dev", &veth.name]);
        }
        veth
    }

    fn exists(name: &str) -> bool {
        Command::new("ip").args(["link", "show", name]).output().unwrap().status.success()
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        if Veth::exists(&self.name) {
            let _ = Command::new("ip").args(["link", "del", &self.name]).status();
        }
    }
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip (iproute2)");
    assert!(out.status.success(), "ip {args:?}: {}", text(&out.stderr));
}

fn bundle_moving(veth: &Veth, device: serde_json::Value, script: &str) -> Bundle {
    let mut b = Bundle::new(&["sh", "-c", script]);
    b.config["linux"]["netDevices"] = serde_json::json!({ veth.name.clone(): device });
    b.write();
    b
}

#[test]
fn a_device_arrives_renamed_up_with_its_addresses() {
    let veth = Veth::new(&["10.231.7.1/24", "fd00:231:7::1/64"]);
    // IPv6 duplicate address detection would mark the address tentative;
    // the test reads it as the kernel lists it.
    let mut b = bundle_moving(&veth, serde_json::json!({"name": "eth1"}), "ip -o link show eth1; ip -o addr show dev eth1");
    let out = b.run_ok("netdev");
    // "N: eth1@ifM: <…,UP,…>": a veth end names its peer's index.
    assert!(out.contains(": eth1@") && out.contains(",UP,"), "link not up inside:\n{out}");
    assert!(out.contains("inet 10.231.7.1/24 brd 10.231.7.255"), "IPv4 address not kept:\n{out}");
    assert!(out.contains("inet6 fd00:231:7::1/64"), "IPv6 address not kept:\n{out}");
    // Never moved back: the namespace took the veth end, and its peer (the
    // kernel cleans a namespace up a moment after its last process).
    wait_until("the veth pair to go with the container", || !Veth::exists(&veth.name) && !Veth::exists(&veth.peer));
}

#[test]
fn the_host_name_is_kept_when_no_name_is_given_and_a_template_is_numbered() {
    let veth = Veth::new(&[]);
    let mut b = bundle_moving(&veth, serde_json::json!({}), &format!("ip -o link show {}", veth.name));
    let out = b.run_ok("netdev-same");
    assert!(out.contains(&format!(": {}@", veth.name)), "{out}");

    let veth = Veth::new(&[]);
    let mut b = bundle_moving(&veth, serde_json::json!({"name": "net%d"}), "ip -o link show net0");
    let out = b.run_ok("netdev-template");
    assert!(out.contains(": net0@"), "{out}");
}

#[test]
fn a_name_taken_inside_fails_and_the_device_stays_on_the_host() {
    let veth = Veth::new(&["10.231.8.1/24"]);
    let mut b = bundle_moving(&veth, serde_json::json!({"name": "lo"}), "true");
    let id = b.id("netdev-taken");
    let out = b.husk(&["create", &id]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "moved onto lo");
    // (The log line escapes the quotes around "lo".)
    let expected = format!("linux.netDevices.{}: the container's network namespace has a device named ", veth.name);
    assert!(stderr.contains(&expected) && stderr.contains("lo") && stderr.contains("already"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(Veth::exists(&veth.name), "the device is gone from the host");
    assert!(!b.root.join(&id).exists(), "state left");
}

#[test]
fn bad_values_name_the_field_and_move_nothing() {
    let veth = Veth::new(&[]);
    let cases = [
        (serde_json::json!({ "husk-nosuch0": {} }), "config.json: linux.netDevices.husk-nosuch0: no such network interface on the host"),
        (serde_json::json!({ veth.name.clone(): {"name": "a-name-too-long-0"} }), "is not 1 to 15 bytes long"),
        (serde_json::json!({ veth.name.clone(): {"name": "eth/1"} }), "is not an interface name"),
    ];
    for (devices, expected) in cases {
        let mut b = Bundle::new(&["true"]);
        b.config["linux"]["netDevices"] = devices;
        b.write();
        let id = b.id("netdev-bad");
        let out = b.husk(&["create", &id]);
        let stderr = text(&out.stderr);
        assert!(!out.status.success() && stderr.contains(expected), "{expected}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!b.root.join(&id).exists(), "state left");
        assert!(Veth::exists(&veth.name), "the device moved");
    }
    // Without a network namespace of the container's own.
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["namespaces"].as_array_mut().unwrap().retain(|ns| ns["type"] != "network");
    b.config["linux"]["netDevices"] = serde_json::json!({ veth.name.clone(): {} });
    b.write();
    let id = b.id("netdev-nons");
    let out = b.husk(&["create", &id]);
    assert!(text(&out.stderr).contains("network namespace of the container's own"), "{}", text(&out.stderr));
    assert!(Veth::exists(&veth.name));
}

/// `husk features` lists netDevices, which the tests above show working.
#[test]
fn features_list_net_devices() {
    let out = Command::new(env!("CARGO_BIN_EXE_husk")).arg("features").output().unwrap();
    let features: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(features["linux"]["netDevices"]["enabled"], true, "{features}");
}
