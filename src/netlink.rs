//! rtnetlink, as far as `linux.netDevices` needs it: a NETLINK_ROUTE socket,
//! link and address requests built by hand (nlmsghdr, ifinfomsg, ifaddrmsg
//! and their attributes), and the kernel's acknowledgements read back.
//! Pure Rust over nix's socket calls; no unsafe.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};

#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    #[error("netlink: {op}: {source}")]
    Sys { op: &'static str, source: Errno },
    #[error("netlink: {request}: {}", .errno.desc())]
    Refused { request: String, errno: Errno },
    #[error("netlink: malformed reply to {request}")]
    Malformed { request: String },
}

const HEADER: usize = 16;

/// An address of a link, as RTM_GETADDR reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkAddress {
    pub address: IpAddr,
    pub prefix_len: u8,
    pub scope: u8,
    /// IFA_F_* (IFA_FLAGS when present, which holds all 32 bits).
    pub flags: u32,
}

pub struct Socket {
    fd: OwnedFd,
    seq: u32,
}

impl Socket {
    /// A route socket in the calling thread's network namespace.
    pub fn open() -> Result<Socket, NetlinkError> {
        let fd = socket::socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute)
            .map_err(|source| NetlinkError::Sys { op: "socket(AF_NETLINK)", source })?;
        socket::bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0)).map_err(|source| NetlinkError::Sys { op: "bind", source })?;
        Ok(Socket { fd, seq: 0 })
    }

    /// Sends one request and returns the payloads of its replies (for a
    /// dump, every message up to NLMSG_DONE); an error reply is the errno.
    fn request(&mut self, kind: u16, flags: u16, body: &[u8], what: &str) -> Result<Vec<Vec<u8>>, NetlinkError> {
        self.seq += 1;
        let mut message = Vec::with_capacity(HEADER + body.len());
        message.extend_from_slice(&((HEADER + body.len()) as u32).to_ne_bytes());
        message.extend_from_slice(&kind.to_ne_bytes());
        message.extend_from_slice(&(flags | libc::NLM_F_REQUEST as u16 | libc::NLM_F_ACK as u16).to_ne_bytes());
        message.extend_from_slice(&self.seq.to_ne_bytes());
        message.extend_from_slice(&0u32.to_ne_bytes());
        message.extend_from_slice(body);
        socket::sendto(self.fd.as_raw_fd(), &message, &NetlinkAddr::new(0, 0), MsgFlags::empty())
            .map_err(|source| NetlinkError::Sys { op: "sendto", source })?;
        let dump = flags & libc::NLM_F_DUMP as u16 == libc::NLM_F_DUMP as u16;
        let malformed = || NetlinkError::Malformed { request: what.to_string() };
        let mut payloads = Vec::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let n = socket::recv(self.fd.as_raw_fd(), &mut buffer, MsgFlags::empty())
                .map_err(|source| NetlinkError::Sys { op: "recv", source })?;
            let mut at = 0;
            while at + HEADER <= n {
                let len = u32::from_ne_bytes(buffer[at..at + 4].try_into().expect("4 bytes")) as usize;
                let kind = u16::from_ne_bytes(buffer[at + 4..at + 6].try_into().expect("2 bytes"));
                let seq = u32::from_ne_bytes(buffer[at + 8..at + 12].try_into().expect("4 bytes"));
                if len < HEADER || at + len > n {
                    return Err(malformed());
                }
                let payload = &buffer[at + HEADER..at + len];
                at += align(len);
                if seq != self.seq {
                    continue;
                }
                match kind as i32 {
                    libc::NLMSG_ERROR => {
                        let code = i32::from_ne_bytes(payload.get(..4).ok_or_else(malformed)?.try_into().expect("4 bytes"));
                        if code != 0 {
                            return Err(NetlinkError::Refused { request: what.to_string(), errno: Errno::from_raw(-code) });
                        }
                        // The acknowledgement ends a request, and a dump.
                        return Ok(payloads);
                    }
                    // A dump ends with DONE (no acknowledgement follows).
                    libc::NLMSG_DONE if dump => return Ok(payloads),
                    _ => payloads.push(payload.to_vec()),
                }
            }
        }
    }

    /// Sets a link's IFF_UP on or off.
    pub fn set_up(&mut self, index: u32, up: bool) -> Result<(), NetlinkError> {
        let flag = libc::IFF_UP as u32;
        let body = ifinfomsg(index, if up { flag } else { 0 }, flag);
        let what = format!("set link {index} {}", if up { "up" } else { "down" });
        self.request(libc::RTM_NEWLINK, 0, &body, &what).map(drop)
    }

    /// Moves a link into the network namespace `netns` under `name` (a
    /// `%d` template lets the kernel pick a free number), in one request:
    /// the kernel renames it as it arrives, so the name never clashes on
    /// the host.
    pub fn move_to_netns(&mut self, index: u32, name: &str, netns: &OwnedFd) -> Result<(), NetlinkError> {
        let mut body = ifinfomsg(index, 0, 0);
        attribute(&mut body, libc::IFLA_IFNAME, &nul_terminated(name));
        attribute(&mut body, libc::IFLA_NET_NS_FD, &(netns.as_raw_fd() as u32).to_ne_bytes());
        let what = format!("move link {index} to another network namespace as {name:?}");
        self.request(libc::RTM_NEWLINK, 0, &body, &what).map(drop)
    }

    /// The name of the link with this index, if there is one.
    pub fn link_name(&mut self, index: u32) -> Result<Option<String>, NetlinkError> {
        let body = ifinfomsg(index, 0, 0);
        let replies = match self.request(libc::RTM_GETLINK, 0, &body, &format!("get link {index}")) {
            Ok(replies) => replies,
            Err(NetlinkError::Refused { errno: Errno::ENODEV, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(replies.iter().find_map(|reply| {
            attributes(reply.get(16..)?).find(|(kind, _)| *kind == libc::IFLA_IFNAME).map(|(_, value)| text(value))
        }))
    }

    /// The index of the link named `name`.
    pub fn link_index(&mut self, name: &str) -> Result<u32, NetlinkError> {
        let mut body = ifinfomsg(0, 0, 0);
        attribute(&mut body, libc::IFLA_IFNAME, &nul_terminated(name));
        let what = format!("get link {name:?}");
        let replies = self.request(libc::RTM_GETLINK, 0, &body, &what)?;
        let reply = replies.first().filter(|r| r.len() >= 8).ok_or(NetlinkError::Malformed { request: what })?;
        Ok(u32::from_ne_bytes(reply[4..8].try_into().expect("4 bytes")))
    }

    /// Every address of the link with this index.
    pub fn addresses(&mut self, index: u32) -> Result<Vec<LinkAddress>, NetlinkError> {
        let body = ifaddrmsg(libc::AF_UNSPEC as u8, 0, 0, 0, 0);
        let what = format!("list the addresses of link {index}");
        let replies = self.request(libc::RTM_GETADDR, libc::NLM_F_DUMP as u16, &body, &what)?;
        Ok(replies.iter().filter_map(|reply| parse_address(reply, index)).collect())
    }

    /// Adds an address to a link (with IPv4's broadcast address, as `ip`
    /// and runc's netlink library derive it).
    pub fn add_address(&mut self, index: u32, address: &LinkAddress) -> Result<(), NetlinkError> {
        let (family, bytes) = match address.address {
            IpAddr::V4(v4) => (libc::AF_INET as u8, v4.octets().to_vec()),
            IpAddr::V6(v6) => (libc::AF_INET6 as u8, v6.octets().to_vec()),
        };
        let mut body = ifaddrmsg(family, address.prefix_len, 0, address.scope, index);
        attribute(&mut body, libc::IFA_LOCAL, &bytes);
        attribute(&mut body, libc::IFA_ADDRESS, &bytes);
        if let IpAddr::V4(v4) = address.address
            && address.prefix_len < 31
        {
            let host_bits = u32::MAX.checked_shr(u32::from(address.prefix_len)).unwrap_or(0);
            attribute(&mut body, libc::IFA_BROADCAST, &(u32::from(v4) | host_bits).to_be_bytes());
        }
        let flags = (libc::NLM_F_CREATE | libc::NLM_F_EXCL) as u16;
        let what = format!("add address {}/{} to link {index}", address.address, address.prefix_len);
        self.request(libc::RTM_NEWADDR, flags, &body, &what).map(drop)
    }
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

fn ifinfomsg(index: u32, flags: u32, change: u32) -> Vec<u8> {
    let mut body = vec![libc::AF_UNSPEC as u8, 0, 0, 0];
    body.extend_from_slice(&(index as i32).to_ne_bytes());
    body.extend_from_slice(&flags.to_ne_bytes());
    body.extend_from_slice(&change.to_ne_bytes());
    body
}

fn ifaddrmsg(family: u8, prefix_len: u8, flags: u8, scope: u8, index: u32) -> Vec<u8> {
    let mut body = vec![family, prefix_len, flags, scope];
    body.extend_from_slice(&index.to_ne_bytes());
    body
}

/// Appends an rtattr, padded to four bytes.
fn attribute(body: &mut Vec<u8>, kind: u16, value: &[u8]) {
    body.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
    body.extend_from_slice(&kind.to_ne_bytes());
    body.extend_from_slice(value);
    body.resize(align(body.len()), 0);
}

/// The rtattrs of a payload past its fixed header.
fn attributes(mut data: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
    std::iter::from_fn(move || {
        if data.len() < 4 {
            return None;
        }
        let len = u16::from_ne_bytes([data[0], data[1]]) as usize;
        let kind = u16::from_ne_bytes([data[2], data[3]]);
        if len < 4 || len > data.len() {
            return None;
        }
        let value = &data[4..len];
        data = &data[align(len).min(data.len())..];
        Some((kind & 0x3fff, value))
    })
}

fn nul_terminated(name: &str) -> Vec<u8> {
    let mut bytes = name.as_bytes().to_vec();
    bytes.push(0);
    bytes
}

fn text(value: &[u8]) -> String {
    String::from_utf8_lossy(value.split(|b| *b == 0).next().unwrap_or_default()).into_owned()
}

/// An RTM_NEWADDR payload, if it is about link `index`.
fn parse_address(payload: &[u8], index: u32) -> Option<LinkAddress> {
    let [family, prefix_len, flags, scope, i0, i1, i2, i3] = *payload.get(..8)? else { return None };
    if u32::from_ne_bytes([i0, i1, i2, i3]) != index {
        return None;
    }
    let mut address = None;
    let mut local = None;
    let mut all_flags = u32::from(flags);
    for (kind, value) in attributes(&payload[8..]) {
        let ip = match (family as i32, value.len()) {
            (libc::AF_INET, 4) => Some(IpAddr::from(<[u8; 4]>::try_from(value).ok()?)),
            (libc::AF_INET6, 16) => Some(IpAddr::from(<[u8; 16]>::try_from(value).ok()?)),
            _ => None,
        };
        match kind {
            libc::IFA_ADDRESS => address = ip,
            libc::IFA_LOCAL => local = ip,
            libc::IFA_FLAGS if value.len() == 4 => all_flags = u32::from_ne_bytes(value.try_into().ok()?),
            _ => {}
        }
    }
    // IFA_LOCAL is the interface's own address where both are given (a
    // point-to-point link's IFA_ADDRESS is its peer).
    Some(LinkAddress { address: local.or(address)?, prefix_len, scope, flags: all_flags })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_read_back() {
        let mut body = ifinfomsg(7, 0, 0);
        attribute(&mut body, libc::IFLA_IFNAME, &nul_terminated("eth1"));
        attribute(&mut body, libc::IFLA_NET_NS_FD, &9u32.to_ne_bytes());
        assert_eq!(body.len(), 16 + 12 + 8);
        let found: Vec<(u16, Vec<u8>)> = attributes(&body[16..]).map(|(k, v)| (k, v.to_vec())).collect();
        assert_eq!(found, [(libc::IFLA_IFNAME, b"eth1\0".to_vec()), (libc::IFLA_NET_NS_FD, 9u32.to_ne_bytes().to_vec())]);
        assert_eq!(text(&found[0].1), "eth1");
    }

    #[test]
    fn an_address_reply_is_read_for_its_link_only() {
        let mut payload = ifaddrmsg(libc::AF_INET as u8, 24, libc::IFA_F_PERMANENT as u8, 0, 5);
        attribute(&mut payload, libc::IFA_ADDRESS, &[10, 1, 2, 3]);
        attribute(&mut payload, libc::IFA_LOCAL, &[10, 1, 2, 3]);
        attribute(&mut payload, libc::IFA_FLAGS, &(libc::IFA_F_PERMANENT).to_ne_bytes());
        let address = parse_address(&payload, 5).unwrap();
        assert_eq!(address, LinkAddress { address: "10.1.2.3".parse().unwrap(), prefix_len: 24, scope: 0, flags: libc::IFA_F_PERMANENT });
        assert_eq!(parse_address(&payload, 6), None);
        let mut v6 = ifaddrmsg(libc::AF_INET6 as u8, 64, 0, 0, 5);
        attribute(&mut v6, libc::IFA_ADDRESS, &"fd00::1".parse::<std::net::Ipv6Addr>().unwrap().octets());
        assert_eq!(parse_address(&v6, 5).unwrap().address, "fd00::1".parse::<IpAddr>().unwrap());
    }
}
