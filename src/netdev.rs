//! `linux.netDevices`: host network interfaces moved into the container's
//! network namespace, as runc 1.3 moves them: the link is set down, its
//! addresses read, then moved and renamed in one request (a `%d` in the
//! new name lets the kernel number it); in the container's namespace its
//! permanent addresses of global scope are added back (the kernel drops
//! addresses on a move) and it is set up. It is never moved back: the
//! kernel returns a physical device to the host when the namespace goes,
//! and destroys a virtual one.
//!
//! The names are checked when the config is read, the host interfaces when
//! `create` plans, before anything is made; the move is the parent's, once
//! the init's network namespace exists.

use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNetDevice;

use crate::config_error::ConfigError;
use crate::netlink::{self, NetlinkError};

#[derive(Debug, thiserror::Error)]
pub enum NetDeviceError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("linux.netDevices.{device}: {op} {}: {}", path.display(), source.desc())]
    Namespace { device: String, op: &'static str, path: PathBuf, source: nix::errno::Errno },
    #[error("linux.netDevices.{device}: {source}")]
    Netlink { device: String, source: NetlinkError },
    #[error("linux.netDevices.{device}: the container's network namespace has a device named \"{name}\" already")]
    NameTaken { device: String, name: String },
}

/// One interface to move: its host index and name, and its name inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub host_name: String,
    pub index: u32,
    pub name: String,
}

/// What the kernel takes as an interface name (dev_valid_name): 1 to 15
/// bytes, not "." or "..", no '/', ':' or white space.
fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 15 {
        return Some(format!("\"{name}\" is not 1 to 15 bytes long"));
    }
    if name == "." || name == ".." || name.contains(['/', ':']) || name.chars().any(char::is_whitespace) {
        return Some(format!("\"{name}\" is not an interface name"));
    }
    None
}

/// The config's checks that need no host: valid names, a network
/// namespace of the container's own to move them into, and no two
/// devices given one name inside. Returns (field, problem).
pub fn validate(devices: &HashMap<String, LinuxNetDevice>, has_own_netns: bool) -> Result<(), (String, String)> {
    let mut names: Vec<(&String, &LinuxNetDevice)> = devices.iter().collect();
    names.sort_by_key(|(host, _)| host.as_str());
    let mut inside = std::collections::HashSet::new();
    for (host, device) in names {
        let field = format!("linux.netDevices.{host}");
        if let Some(problem) = name_problem(host) {
            return Err((field, problem));
        }
        if !has_own_netns {
            return Err((field, "a device can only be moved into a network namespace of the container's own".into()));
        }
        let name = device.name().clone().unwrap_or_else(|| host.clone());
        if let Some(problem) = name_problem(&name) {
            return Err((format!("{field}.name"), problem));
        }
        if !name.contains("%d") && !inside.insert(name.clone()) {
            return Err((format!("{field}.name"), format!("\"{name}\" is the name of another device too")));
        }
    }
    Ok(())
}

/// The moves, with each host interface looked up (a missing one is the
/// config's error, found before anything is made).
pub fn plan(devices: Option<&HashMap<String, LinuxNetDevice>>) -> Result<Vec<Move>, NetDeviceError> {
    let mut moves = Vec::new();
    let mut sorted: Vec<(&String, &LinuxNetDevice)> = devices.into_iter().flatten().collect();
    sorted.sort_by_key(|(host, _)| host.as_str());
    let Some((first, _)) = sorted.first() else { return Ok(moves) };
    let mut socket = netlink::Socket::open().map_err(|source| NetDeviceError::Netlink { device: first.to_string(), source })?;
    for (host, device) in sorted {
        let index = match socket.link_index(host) {
            Ok(index) => index,
            Err(NetlinkError::Refused { errno: nix::errno::Errno::ENODEV, .. }) => {
                return Err(ConfigError::config(format!("linux.netDevices.{host}"), "no such network interface on the host").into());
            }
            Err(source) => return Err(NetDeviceError::Netlink { device: host.clone(), source }),
        };
        moves.push(Move { host_name: host.clone(), index, name: device.name().clone().unwrap_or_else(|| host.clone()) });
    }
    Ok(moves)
}

/// Moves every planned interface into the network namespace of `pid`.
pub fn move_all(moves: &[Move], pid: Pid) -> Result<(), NetDeviceError> {
    if moves.is_empty() {
        return Ok(());
    }
    let target = PathBuf::from(format!("/proc/{pid}/ns/net"));
    let open = |path: &PathBuf, device: &str| {
        nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|source| NetDeviceError::Namespace { device: device.to_string(), op: "open", path: path.clone(), source })
    };
    let first = &moves[0].host_name;
    let netns = open(&target, first)?;
    let mut host = netlink::Socket::open().map_err(|source| NetDeviceError::Netlink { device: first.clone(), source })?;
    let mut inside = socket_in(&netns, &target, first)?;
    for one in moves {
        // Checked before the move: the kernel moves the device first and
        // renames it after, so a clash would leave it in the container.
        if !one.name.contains("%d") && inside.link_index(&one.name).is_ok() {
            return Err(NetDeviceError::NameTaken { device: one.host_name.clone(), name: one.name.clone() });
        }
        move_one(one, &netns, &mut host, &mut inside)
            .map_err(|source| NetDeviceError::Netlink { device: one.host_name.clone(), source })?;
    }
    Ok(())
}

fn move_one(one: &Move, netns: &OwnedFd, host: &mut netlink::Socket, inside: &mut netlink::Socket) -> Result<(), NetlinkError> {
    // Down first, as runc: nothing on the host uses it while it goes.
    host.set_up(one.index, false)?;
    let keep: Vec<_> = host
        .addresses(one.index)?
        .into_iter()
        .filter(|a| a.flags & libc::IFA_F_PERMANENT != 0 && a.scope == libc::RT_SCOPE_UNIVERSE)
        .collect();
    host.move_to_netns(one.index, &one.name, netns)?;
    // The kernel keeps the index unless it is taken in the namespace; a
    // new one is then found by the name (not a template's).
    let index = match inside.link_name(one.index)? {
        Some(_) => one.index,
        None => inside.link_index(&one.name)?,
    };
    for address in &keep {
        inside.add_address(index, address)?;
    }
    inside.set_up(index, true)
}

/// A route socket opened inside the network namespace `netns`: the
/// parent enters it for the one call and comes back (a socket stays in the
/// namespace it was made in). husk is single-threaded here.
fn socket_in(netns: &OwnedFd, path: &Path, device: &str) -> Result<netlink::Socket, NetDeviceError> {
    let own_path = PathBuf::from("/proc/self/ns/net");
    let own = nix::fcntl::open(&own_path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|source| NetDeviceError::Namespace { device: device.to_string(), op: "open", path: own_path.clone(), source })?;
    nix::sched::setns(netns.as_fd(), CloneFlags::CLONE_NEWNET)
        .map_err(|source| NetDeviceError::Namespace { device: device.to_string(), op: "enter", path: path.to_path_buf(), source })?;
    let socket = netlink::Socket::open();
    nix::sched::setns(own.as_fd(), CloneFlags::CLONE_NEWNET)
        .map_err(|source| NetDeviceError::Namespace { device: device.to_string(), op: "return to", path: own_path, source })?;
    socket.map_err(|source| NetDeviceError::Netlink { device: device.to_string(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices(json: serde_json::Value) -> HashMap<String, LinuxNetDevice> {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn names_are_checked_as_the_kernel_checks_them() {
        assert!(validate(&devices(serde_json::json!({"veth0": {"name": "eth%d"}, "veth1": {}})), true).is_ok());
        let (field, problem) = validate(&devices(serde_json::json!({"veth0": {"name": "a-very-long-name0"}})), true).unwrap_err();
        assert_eq!((field.as_str(), problem.as_str()), ("linux.netDevices.veth0.name", "\"a-very-long-name0\" is not 1 to 15 bytes long"));
        let (field, _) = validate(&devices(serde_json::json!({"bad/name": {}})), true).unwrap_err();
        assert_eq!(field, "linux.netDevices.bad/name");
        let (field, problem) = validate(&devices(serde_json::json!({"a": {"name": "x"}, "b": {"name": "x"}})), true).unwrap_err();
        assert_eq!((field.as_str(), problem.as_str()), ("linux.netDevices.b.name", "\"x\" is the name of another device too"));
        let (_, problem) = validate(&devices(serde_json::json!({"veth0": {}})), false).unwrap_err();
        assert!(problem.contains("network namespace of the container's own"), "{problem}");
    }

    #[test]
    fn a_missing_host_interface_is_the_configs_error() {
        let error = plan(Some(&devices(serde_json::json!({"husk-absent0": {}})))).unwrap_err().to_string();
        assert_eq!(error, "config.json: linux.netDevices.husk-absent0: no such network interface on the host");
        let moves = plan(Some(&devices(serde_json::json!({"lo": {"name": "lo0"}})))).unwrap();
        assert_eq!(moves, [Move { host_name: "lo".into(), index: 1, name: "lo0".into() }]);
    }
}
