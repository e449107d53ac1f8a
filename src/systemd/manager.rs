//! systemd's manager (`org.freedesktop.systemd1.Manager`) over the bus: the
//! calls runc's driver makes, each job waited for through its `JobRemoved`
//! signal, with a deadline.

use std::time::{Duration, Instant};

use super::SystemdError;
use super::bus::{Bus, Call, Message, SYSTEM_BUS_DEFAULT};
use super::wire::Value;

const SYSTEMD: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const NO_SUCH_UNIT: &str = "org.freedesktop.systemd1.NoSuchUnit";
/// What the bus daemon answers for a name nobody owns.
const NOT_OWNED: &[&str] = &["org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.NameHasNoOwner"];
/// runc waits as long for a unit's job.
pub const JOB_TIMEOUT: Duration = Duration::from_secs(30);

/// A unit property: a name and a value of the type systemd expects for it
/// (`PIDs` au, `Delegate` b, `Slice` s, `MemoryMax` t, `AllowedCPUs` ay,
/// `DeviceAllow` a(ss), …; see systemd.resource-control(5)).
#[derive(Debug, Clone, PartialEq)]
pub struct Property {
    pub name: String,
    pub value: Value,
}

impl Property {
    pub fn new(name: &str, value: Value) -> Property {
        Property { name: name.to_string(), value }
    }

    fn to_value(&self) -> Value {
        Value::Struct(vec![Value::str(&self.name), Value::Variant(Box::new(self.value.clone()))])
    }
}

fn properties(list: &[Property]) -> Value {
    Value::Array("(sv)".into(), list.iter().map(Property::to_value).collect())
}

pub struct Manager {
    bus: Bus,
    /// How long each call and each job may take.
    timeout: Duration,
    jobs_matched: bool,
}

impl Manager {
    /// The system bus: $DBUS_SYSTEM_BUS_ADDRESS, else
    /// /run/dbus/system_bus_socket.
    pub fn system() -> Result<Manager, SystemdError> {
        let address = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").unwrap_or_else(|_| SYSTEM_BUS_DEFAULT.to_string());
        Manager::connect(&address)
    }

    /// The user's bus (rootless): $DBUS_SESSION_BUS_ADDRESS, else
    /// $XDG_RUNTIME_DIR/bus.
    pub fn user() -> Result<Manager, SystemdError> {
        let address = std::env::var("DBUS_SESSION_BUS_ADDRESS").unwrap_or_else(|_| {
            let runtime = std::env::var("XDG_RUNTIME_DIR")
                .unwrap_or_else(|_| format!("/run/user/{}", nix::unistd::geteuid().as_raw()));
            format!("unix:path={runtime}/bus")
        });
        Manager::connect(&address)
    }

    pub fn connect(address: &str) -> Result<Manager, SystemdError> {
        Ok(Manager { bus: Bus::connect(address, JOB_TIMEOUT)?, timeout: JOB_TIMEOUT, jobs_matched: false })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Manager {
        self.timeout = timeout;
        self
    }

    pub fn unique_name(&self) -> &str {
        &self.bus.unique_name
    }

    /// Calls any method with a deadline of `timeout`. A bus where nobody
    /// is systemd (a dbus-daemon on a host booted without it) answers a
    /// call to systemd with "service unknown": said as such.
    pub fn call(&mut self, destination: &str, path: &str, interface: &str, member: &str, args: Vec<Value>) -> Result<Message, SystemdError> {
        let deadline = Instant::now() + self.timeout;
        match self.bus.call(&Call { destination, path, interface, member, args }, deadline) {
            Err(e) if destination == SYSTEMD && e.dbus_error_name().is_some_and(|n| NOT_OWNED.contains(&n)) => {
                Err(SystemdError::NotRunning { socket: self.bus.socket().to_string() })
            }
            other => other,
        }
    }

    fn manager_call(&mut self, member: &str, args: Vec<Value>) -> Result<Message, SystemdError> {
        self.call(SYSTEMD, MANAGER_PATH, MANAGER, member, args)
    }

    /// Asks the bus for the manager's `JobRemoved` signals, once, before the
    /// first job: a job may end before its method's reply is read.
    fn match_jobs(&mut self) -> Result<(), SystemdError> {
        if self.jobs_matched {
            return Ok(());
        }
        let rule = format!("type='signal',sender='{SYSTEMD}',path='{MANAGER_PATH}',interface='{MANAGER}',member='JobRemoved'");
        self.call("org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "AddMatch", vec![Value::Str(rule)])?;
        self.jobs_matched = true;
        Ok(())
    }

    /// Starts a job with `member`, then waits for its end: `done` is
    /// success, any other result (`failed`, `timeout`, `canceled`,
    /// `dependency`, `skipped`…) an error naming it.
    fn run_job(&mut self, verb: &'static str, unit: &str, args: Vec<Value>) -> Result<(), SystemdError> {
        self.match_jobs()?;
        let deadline = Instant::now() + self.timeout;
        let reply = self.manager_call(verb, args)?;
        let job = match reply.body.first() {
            Some(Value::ObjectPath(job)) => job.clone(),
            _ => return Err(SystemdError::UnexpectedReply { method: verb, body: format!("{:?}", reply.body) }),
        };
        let waiting_for = format!("the end of {verb} {unit} ({job})");
        let removed = self.bus.wait_signal(deadline, &waiting_for, |msg| {
            msg.member.as_deref() == Some("JobRemoved") && msg.body.get(1).and_then(Value::as_str) == Some(job.as_str())
        })?;
        // JobRemoved (u id, o job, s unit, s result)
        let result = removed.body.get(3).and_then(Value::as_str).unwrap_or_default();
        if result != "done" {
            return Err(SystemdError::JobFailed { verb, unit: unit.to_string(), result: result.to_string() });
        }
        Ok(())
    }

    /// Makes a transient unit (a container's scope, or a slice) and waits
    /// until systemd started it. `aux` is for auxiliary units, which runc
    /// never sends.
    pub fn start_transient_unit(&mut self, name: &str, mode: &str, props: &[Property], aux: &[(String, Vec<Property>)]) -> Result<(), SystemdError> {
        let aux = aux
            .iter()
            .map(|(unit, props)| Value::Struct(vec![Value::str(unit), properties(props)]))
            .collect();
        let args = vec![Value::str(name), Value::str(mode), properties(props), Value::Array("(sa(sv))".into(), aux)];
        self.run_job("StartTransientUnit", name, args)
    }

    /// Stops a unit and waits for it to be gone; false when there was no
    /// such unit.
    pub fn stop_unit(&mut self, name: &str, mode: &str) -> Result<bool, SystemdError> {
        match self.run_job("StopUnit", name, vec![Value::str(name), Value::str(mode)]) {
            Ok(()) => Ok(true),
            Err(e) if e.dbus_error_name() == Some(NO_SUCH_UNIT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Lets systemd forget a failed unit, so that its name can be used again.
    pub fn reset_failed_unit(&mut self, name: &str) -> Result<(), SystemdError> {
        match self.manager_call("ResetFailedUnit", vec![Value::str(name)]) {
            Err(e) if e.dbus_error_name() != Some(NO_SUCH_UNIT) => Err(e),
            _ => Ok(()),
        }
    }

    /// Changes a unit's properties; `runtime` until the next boot only (runc
    /// always passes true).
    pub fn set_unit_properties(&mut self, name: &str, runtime: bool, props: &[Property]) -> Result<(), SystemdError> {
        self.manager_call("SetUnitProperties", vec![Value::str(name), Value::Bool(runtime), properties(props)])?;
        Ok(())
    }

    /// The unit's object path, or None when systemd has no such unit loaded.
    pub fn get_unit(&mut self, name: &str) -> Result<Option<String>, SystemdError> {
        match self.manager_call("GetUnit", vec![Value::str(name)]) {
            Ok(reply) => match reply.body.first() {
                Some(Value::ObjectPath(path)) => Ok(Some(path.clone())),
                _ => Err(SystemdError::UnexpectedReply { method: "GetUnit", body: format!("{:?}", reply.body) }),
            },
            Err(e) if e.dbus_error_name() == Some(NO_SUCH_UNIT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub fn unit_exists(&mut self, name: &str) -> Result<bool, SystemdError> {
        Ok(self.get_unit(name)?.is_some())
    }

    /// A property of the object at `path` (org.freedesktop.DBus.Properties.Get).
    pub fn property(&mut self, path: &str, interface: &str, name: &str) -> Result<Value, SystemdError> {
        let reply = self.call(SYSTEMD, path, "org.freedesktop.DBus.Properties", "Get", vec![Value::str(interface), Value::str(name)])?;
        match reply.body.into_iter().next() {
            Some(Value::Variant(value)) => Ok(*value),
            other => Err(SystemdError::UnexpectedReply { method: "Get", body: format!("{other:?}") }),
        }
    }

    /// The manager's own cgroup (`ControlGroup`): a user manager's, under
    /// which its units' cgroups are (`/user.slice/user-1000.slice/
    /// user@1000.service`); the system manager's is the root.
    pub fn control_group(&mut self) -> Result<String, SystemdError> {
        let value = self.property(MANAGER_PATH, MANAGER, "ControlGroup")?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }

    /// The manager's version number ("252.38-1~deb12u1" is 252), which
    /// decides what properties runc may send.
    pub fn version(&mut self) -> Result<u32, SystemdError> {
        let value = self.property(MANAGER_PATH, MANAGER, "Version")?;
        let text = value.as_str().unwrap_or_default();
        parse_version(text).ok_or_else(|| SystemdError::UnexpectedReply { method: "Get", body: format!("Version {text:?}") })
    }
}

/// systemd's version number from its version string, as runc reads it:
/// "v245.4-1.fc32", "245", "252.38-1~deb12u1".
pub fn parse_version(text: &str) -> Option<u32> {
    let digits: String = text.trim_start_matches(['"', 'v']).chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_read_as_runc_reads_them() {
        assert_eq!(parse_version("252.38-1~deb12u1"), Some(252));
        assert_eq!(parse_version("v245.4-1.fc32"), Some(245));
        assert_eq!(parse_version("\"v245-1.fc32\""), Some(245));
        assert_eq!(parse_version("245"), Some(245));
        assert_eq!(parse_version("unknown"), None);
    }

    #[test]
    fn properties_marshal_as_a_sv() {
        let props = properties(&[Property::new("PIDs", Value::u32_array(&[42])), Property::new("Delegate", Value::Bool(true))]);
        assert_eq!(props.signature(), "a(sv)");
        assert_eq!(properties(&[]).signature(), "a(sv)");
    }
}
