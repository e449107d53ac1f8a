//! A D-Bus connection over a unix socket: the address, `AUTH EXTERNAL`,
//! `Hello`, method calls and signals. Single-threaded and blocking, with a
//! deadline on every wait: husk forks and clones, so no thread of its own
//! may exist in the process, and it never waits unbounded on a daemon.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use super::SystemdError;
use super::wire::{Reader, Value, Writer, split_signature};

pub const SYSTEM_BUS_DEFAULT: &str = "unix:path=/run/dbus/system_bus_socket";

pub const METHOD_CALL: u8 = 1;
pub const METHOD_RETURN: u8 = 2;
pub const ERROR: u8 = 3;
pub const SIGNAL: u8 = 4;

/// A message as received: its header fields and decoded body.
#[derive(Debug, Clone)]
pub struct Message {
    pub kind: u8,
    pub serial: u32,
    pub sender: Option<String>,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub reply_serial: Option<u32>,
    pub body: Vec<Value>,
}

/// A method call to send.
pub struct Call<'a> {
    pub destination: &'a str,
    pub path: &'a str,
    pub interface: &'a str,
    pub member: &'a str,
    pub args: Vec<Value>,
}

/// Any message to send: a call's fields, or those of a reply, an error or a
/// signal (what a service on the bus sends; the tests' stand-in for systemd
/// is one).
#[derive(Default)]
pub struct Outgoing<'a> {
    pub kind: u8,
    pub destination: Option<&'a str>,
    pub path: Option<&'a str>,
    pub interface: Option<&'a str>,
    pub member: Option<&'a str>,
    pub error_name: Option<&'a str>,
    pub reply_serial: Option<u32>,
    pub args: Vec<Value>,
}

/// The socket path of a `unix:` address (the first usable of a `;` list);
/// `@name` for an abstract socket.
pub fn socket_of_address(address: &str) -> Result<String, SystemdError> {
    for entry in address.split(';') {
        let Some(params) = entry.strip_prefix("unix:") else { continue };
        for param in params.split(',') {
            let unescaped = |v: &str| unescape(v).ok_or_else(|| bad_address(address));
            if let Some(path) = param.strip_prefix("path=") {
                return unescaped(path);
            }
            if let Some(name) = param.strip_prefix("abstract=") {
                return Ok(format!("@{}", unescaped(name)?));
            }
        }
    }
    Err(bad_address(address))
}

fn bad_address(address: &str) -> SystemdError {
    SystemdError::BadAddress { address: address.to_string() }
}

/// D-Bus addresses escape bytes as %XX.
fn unescape(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

pub struct Bus {
    stream: UnixStream,
    /// The socket, for errors.
    socket: String,
    serial: u32,
    /// Signals read while waiting for a reply, in arrival order.
    pending_signals: Vec<Message>,
    pub unique_name: String,
}

impl Bus {
    /// The socket, to name in errors.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// Connects, authenticates as our euid and says Hello.
    pub fn connect(address: &str, timeout: Duration) -> Result<Bus, SystemdError> {
        let socket = socket_of_address(address)?;
        let unreachable = |source| SystemdError::Unreachable { socket: socket.clone(), source };
        let stream = match socket.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name).map_err(unreachable)?;
                UnixStream::connect_addr(&addr)
            }
            None => UnixStream::connect(&socket),
        }
        .map_err(unreachable)?;
        let mut bus = Bus { stream, socket, serial: 0, pending_signals: Vec::new(), unique_name: String::new() };
        let deadline = Instant::now() + timeout;
        bus.authenticate(deadline)?;
        let hello = Call {
            destination: "org.freedesktop.DBus",
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member: "Hello",
            args: vec![],
        };
        let reply = bus.call(&hello, deadline)?;
        bus.unique_name = reply.body.first().and_then(Value::as_str).unwrap_or_default().to_string();
        Ok(bus)
    }

    fn io_error(&self, op: &'static str, source: std::io::Error) -> SystemdError {
        SystemdError::Io { socket: self.socket.clone(), op, source }
    }

    fn set_deadline(&self, deadline: Instant, waiting_for: &str) -> Result<(), SystemdError> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(SystemdError::Timeout { socket: self.socket.clone(), waiting_for: waiting_for.to_string() });
        }
        self.stream.set_read_timeout(Some(left)).map_err(|e| self.io_error("set a read timeout", e))
    }

    /// SASL EXTERNAL: the daemon checks our credentials on the socket
    /// (SO_PEERCRED) against the uid we name, in hex of its decimal digits.
    fn authenticate(&mut self, deadline: Instant) -> Result<(), SystemdError> {
        let uid = nix::unistd::geteuid().as_raw().to_string();
        let hex: String = uid.bytes().map(|b| format!("{b:02x}")).collect();
        let hello = format!("\0AUTH EXTERNAL {hex}\r\n");
        self.stream.write_all(hello.as_bytes()).map_err(|e| self.io_error("send AUTH", e))?;
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        while !line.ends_with(b"\r\n") {
            self.set_deadline(deadline, "the authentication reply")?;
            match self.stream.read(&mut byte) {
                Ok(0) => return Err(self.io_error("read the authentication reply", std::io::ErrorKind::UnexpectedEof.into())),
                Ok(_) => line.push(byte[0]),
                Err(e) => return Err(self.read_error("the authentication reply", e)),
            }
            if line.len() > 512 {
                break;
            }
        }
        let reply = String::from_utf8_lossy(&line).trim_end().to_string();
        if !reply.starts_with("OK ") {
            return Err(SystemdError::AuthRefused { socket: self.socket.clone(), reply });
        }
        self.stream.write_all(b"BEGIN\r\n").map_err(|e| self.io_error("send BEGIN", e))
    }

    fn read_error(&self, waiting_for: &str, e: std::io::Error) -> SystemdError {
        if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) {
            SystemdError::Timeout { socket: self.socket.clone(), waiting_for: waiting_for.to_string() }
        } else {
            self.io_error("read", e)
        }
    }

    /// Sends a method call; returns its serial.
    pub fn send(&mut self, call: &Call) -> Result<u32, SystemdError> {
        self.send_message(Outgoing {
            kind: METHOD_CALL,
            destination: Some(call.destination),
            path: Some(call.path),
            interface: Some(call.interface),
            member: Some(call.member),
            args: call.args.clone(),
            ..Outgoing::default()
        })
    }

    /// Sends any message; returns its serial.
    pub fn send_message(&mut self, out: Outgoing) -> Result<u32, SystemdError> {
        self.serial += 1;
        let serial = self.serial;
        let mut body = Writer::default();
        for arg in &out.args {
            body.value(arg);
        }
        let signature: String = out.args.iter().map(Value::signature).collect();
        let field = |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(v))]);
        let mut fields = Vec::new();
        let text = |code: u8, v: Option<&str>, fields: &mut Vec<Value>| {
            if let Some(v) = v {
                fields.push(field(code, if code == 1 { Value::ObjectPath(v.into()) } else { Value::str(v) }));
            }
        };
        text(1, out.path, &mut fields);
        text(2, out.interface, &mut fields);
        text(3, out.member, &mut fields);
        text(4, out.error_name, &mut fields);
        if let Some(reply_serial) = out.reply_serial {
            fields.push(field(5, Value::U32(reply_serial)));
        }
        text(6, out.destination, &mut fields);
        if !signature.is_empty() {
            fields.push(field(8, Value::Signature(signature)));
        }
        let mut msg = Writer::default();
        msg.buf.extend_from_slice(&[b'l', out.kind, 0, 1]);
        msg.buf.extend_from_slice(&(body.buf.len() as u32).to_le_bytes());
        msg.buf.extend_from_slice(&serial.to_le_bytes());
        msg.value(&Value::Array("(yv)".into(), fields));
        msg.pad(8);
        // The body was marshalled at offset 0, and the header ends 8-aligned,
        // so its alignment holds where it lands.
        msg.buf.extend_from_slice(&body.buf);
        self.stream.write_all(&msg.buf).map_err(|e| self.io_error("send a message", e))?;
        Ok(serial)
    }

    /// Reads the next message of any kind (a service's loop).
    pub fn next_message(&mut self, deadline: Instant) -> Result<Message, SystemdError> {
        self.receive(deadline, "a message")
    }

    fn read_exact(&mut self, buf: &mut [u8], deadline: Instant, waiting_for: &str) -> Result<(), SystemdError> {
        let mut filled = 0;
        while filled < buf.len() {
            self.set_deadline(deadline, waiting_for)?;
            match self.stream.read(&mut buf[filled..]) {
                Ok(0) => {
                    return Err(self.io_error("read", std::io::Error::other("the bus closed the connection")));
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.read_error(waiting_for, e)),
            }
        }
        Ok(())
    }

    /// Reads the next message.
    fn receive(&mut self, deadline: Instant, waiting_for: &str) -> Result<Message, SystemdError> {
        let mut fixed = [0u8; 16];
        self.read_exact(&mut fixed, deadline, waiting_for)?;
        if fixed[0] != b'l' {
            return Err(SystemdError::Malformed { problem: format!("big-endian or unknown message (byte {})", fixed[0]) });
        }
        let word = |at: usize| u32::from_le_bytes(fixed[at..at + 4].try_into().expect("4 bytes")) as usize;
        let (body_len, fields_len) = (word(4), word(12));
        let total = (16 + fields_len).next_multiple_of(8) + body_len;
        if total > 128 << 20 {
            return Err(SystemdError::Malformed { problem: format!("message of {total} bytes") });
        }
        let mut data = vec![0u8; total];
        data[..16].copy_from_slice(&fixed);
        self.read_exact(&mut data[16..], deadline, waiting_for)?;
        parse_message(&data)
    }

    /// Calls a method and waits for its reply; an error reply is an error.
    /// Signals that arrive meanwhile are kept for `wait_signal`.
    pub fn call(&mut self, call: &Call, deadline: Instant) -> Result<Message, SystemdError> {
        let serial = self.send(call)?;
        let waiting_for = format!("the reply to {}", call.member);
        loop {
            let msg = self.receive(deadline, &waiting_for)?;
            match msg.kind {
                SIGNAL => self.pending_signals.push(msg),
                METHOD_RETURN if msg.reply_serial == Some(serial) => return Ok(msg),
                ERROR if msg.reply_serial == Some(serial) => {
                    return Err(SystemdError::MethodFailed {
                        method: call.member.to_string(),
                        name: msg.error_name.clone().unwrap_or_default(),
                        message: msg.body.first().and_then(Value::as_str).unwrap_or_default().to_string(),
                    });
                }
                _ => {} // a reply to a call we gave up on, or a call to us
            }
        }
    }

    /// Waits for the first signal (pending or new) that `wanted` accepts.
    pub fn wait_signal(
        &mut self,
        deadline: Instant,
        waiting_for: &str,
        mut wanted: impl FnMut(&Message) -> bool,
    ) -> Result<Message, SystemdError> {
        if let Some(at) = self.pending_signals.iter().position(&mut wanted) {
            return Ok(self.pending_signals.remove(at));
        }
        loop {
            let msg = self.receive(deadline, waiting_for)?;
            if msg.kind == SIGNAL && wanted(&msg) {
                return Ok(msg);
            }
        }
    }
}

/// Parses a whole message: the header's fields, then the body by the
/// signature they declare.
pub fn parse_message(data: &[u8]) -> Result<Message, SystemdError> {
    if data.len() < 16 {
        return Err(SystemdError::Malformed { problem: format!("message of {} bytes", data.len()) });
    }
    let mut reader = Reader::new(data, 12);
    let Value::Array(_, fields) = reader.value("a(yv)")? else { unreachable!("an array signature") };
    let mut msg = Message {
        kind: data[1],
        serial: u32::from_le_bytes(data[8..12].try_into().expect("a 16-byte header")),
        sender: None,
        path: None,
        interface: None,
        member: None,
        error_name: None,
        reply_serial: None,
        body: Vec::new(),
    };
    let mut signature = String::new();
    for field in fields {
        let Value::Struct(parts) = field else { continue };
        let (Some(Value::Byte(code)), Some(Value::Variant(value))) = (parts.first(), parts.get(1)) else { continue };
        let text = value.as_str().map(str::to_string);
        match code {
            1 => msg.path = text,
            2 => msg.interface = text,
            3 => msg.member = text,
            4 => msg.error_name = text,
            5 => msg.reply_serial = value.as_u64().map(|v| v as u32),
            7 => msg.sender = text,
            8 => signature = text.unwrap_or_default(),
            _ => {}
        }
    }
    reader.align(8)?;
    for ty in split_signature(&signature)? {
        msg.body.push(reader.value(ty)?);
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_name_their_socket() {
        assert_eq!(socket_of_address(SYSTEM_BUS_DEFAULT).unwrap(), "/run/dbus/system_bus_socket");
        assert_eq!(socket_of_address("unix:path=/tmp/a%20b,guid=12").unwrap(), "/tmp/a b");
        assert_eq!(socket_of_address("tcp:host=x;unix:abstract=/tmp/dbus-1").unwrap(), "@/tmp/dbus-1");
        let err = socket_of_address("tcp:host=localhost,port=1").unwrap_err();
        assert_eq!(err.to_string(), "systemd: bus address \"tcp:host=localhost,port=1\" has no unix socket");
        assert!(socket_of_address("unix:path=/x%zz").is_err());
    }

    #[test]
    fn an_unreachable_bus_names_its_socket() {
        let dir = std::env::temp_dir().join(format!("husk-no-bus-{}", std::process::id()));
        let address = format!("unix:path={}/socket", dir.display());
        let Err(err) = Bus::connect(&address, Duration::from_secs(1)) else { panic!("connected to nothing") };
        assert_eq!(err.to_string(), format!("systemd: bus {}/socket not reachable: No such file or directory", dir.display()));
    }

    #[test]
    fn a_message_of_ours_parses_back() {
        // What `send` writes, parsed as `receive` would.
        let (a, b) = UnixStream::pair().unwrap();
        let mut bus = Bus { stream: a, socket: "pair".into(), serial: 6, pending_signals: vec![], unique_name: String::new() };
        let call = Call {
            destination: "org.freedesktop.systemd1",
            path: "/org/freedesktop/systemd1",
            interface: "org.freedesktop.systemd1.Manager",
            member: "StartTransientUnit",
            args: vec![Value::str("x.scope"), Value::str("replace"), Value::Array("(sv)".into(), vec![])],
        };
        assert_eq!(bus.send(&call).unwrap(), 7);
        let mut buf = vec![0u8; 4096];
        let n = (&b).read(&mut buf).unwrap();
        let msg = parse_message(&buf[..n]).unwrap();
        assert_eq!(msg.kind, METHOD_CALL);
        assert_eq!(msg.member.as_deref(), Some("StartTransientUnit"));
        assert_eq!(msg.path.as_deref(), Some("/org/freedesktop/systemd1"));
        assert_eq!(msg.body, call.args);
    }

}
