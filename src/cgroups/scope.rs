//! The systemd cgroup driver (`--systemd-cgroup`), as runc's: the container
//! gets a transient scope unit, made over D-Bus with `StartTransientUnit`
//! once its init's pid is known (systemd moves the pid in itself), with the
//! resources systemd knows as unit properties; the rest of the resources
//! go to the scope's cgroup files afterwards, and every later verb but
//! `update` and `delete` works on those files alone. `delete` stops the
//! unit and waits for the job; a create that fails stops it too.
//!
//! The bus connection is opened only by a `Scope`, that is only when the
//! systemd driver is asked for.

use std::cell::{Cell, RefCell};

use oci_spec::runtime::LinuxResources;
use serde::{Deserialize, Serialize};

use super::unit_properties::{self, Layout};
use super::{Cgroup, CgroupError, CgroupPaths, Entry, Result, stats};
use crate::host::{CgroupMode, HostFacts};
use crate::systemd::manager::{Manager, Property};
use crate::systemd::{SystemdError, gvariant};
use crate::systemd::naming::SystemdCgroup;
use crate::systemd::wire::Value;

/// What the state keeps of a container's unit, for `update` and `delete`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SystemdUnit {
    /// `<prefix>-<name>.scope`, or a slice's name.
    pub unit: String,
    /// The parent slice (`Slice=` of a scope, `Wants=` of a slice).
    pub slice: String,
    /// Rootless: the unit is the user's systemd instance's, reached over
    /// the user's bus.
    #[serde(default)]
    pub user: bool,
}

impl SystemdUnit {
    /// The unit for `linux.cgroupsPath` ("slice:prefix:name", or runc's
    /// default `system.slice:runc:<id>` when empty) and its cgroup on this
    /// host. `init_cgroups` is PID 1's /proc/1/cgroup: on v1 hierarchies
    /// runc places the slices under PID 1's cgroup less `init.scope`.
    pub fn resolve(host: &HostFacts, init_cgroups: &[procfs::ProcessCGroup], cgroups_path: Option<&str>, id: &str) -> Result<(SystemdUnit, CgroupPaths)> {
        let named = SystemdCgroup::parse(cgroups_path, id, false)?;
        Self::resolve_named(host, init_cgroups, named, None)
    }

    /// The unit of a rootless container, in the user's systemd instance,
    /// whose own cgroup is `manager_cgroup` (its `ControlGroup`): under it,
    /// on a v2 host, where systemd delegates the user's subtree. runc's
    /// default slice there is user.slice. systemd manages no v1 hierarchy
    /// for a user: on a v1 or hybrid host this is refused, as runc does.
    /// `manager_cgroup` asks the manager, once the host is known to be v2.
    pub fn resolve_user(
        host: &HostFacts,
        cgroups_path: Option<&str>,
        id: &str,
        manager_cgroup: impl FnOnce() -> Result<String, SystemdError>,
    ) -> Result<(SystemdUnit, CgroupPaths)> {
        if host.cgroup_mode != CgroupMode::V2 {
            return Err(CgroupError::from(SystemdError::RootlessNeedsV2));
        }
        let named = SystemdCgroup::parse(cgroups_path, id, true)?;
        let manager_cgroup = manager_cgroup()?;
        let (mut unit, paths) = Self::resolve_named(host, &[], named, Some(&manager_cgroup))?;
        unit.user = true;
        Ok((unit, paths))
    }

    fn resolve_named(
        host: &HostFacts,
        init_cgroups: &[procfs::ProcessCGroup],
        named: SystemdCgroup,
        manager_cgroup: Option<&str>,
    ) -> Result<(SystemdUnit, CgroupPaths)> {
        let relative = named.cgroup_path(manager_cgroup);
        let paths = if host.cgroup_mode == CgroupMode::V2 {
            CgroupPaths::V2(std::path::Path::new(super::CGROUP_ROOT).join(relative.trim_start_matches('/')))
        } else {
            let seen_by_init = HostFacts { cgroup_mode: host.cgroup_mode, mounts: host.mounts.clone(), own_cgroups: init_cgroups.to_vec() };
            let dirs = super::hierarchies(&seen_by_init)
                .into_iter()
                .map(|h| {
                    let init = h.own_path.unwrap_or_default();
                    let base = init.trim_end_matches('/').trim_end_matches("init.scope").trim_matches('/').to_string();
                    let dir = h.mount_point.join(base).join(relative.trim_start_matches('/'));
                    (h.name, dir)
                })
                .collect();
            CgroupPaths::V1(dirs)
        };
        Ok((SystemdUnit { unit: named.unit_name(), slice: named.slice, user: false }, paths))
    }
}

/// The unit properties of the config's `org.systemd.property.*`
/// annotations (see systemd::gvariant).
pub fn annotated_properties(annotations: Option<&std::collections::HashMap<String, String>>) -> Result<Vec<Property>> {
    let Some(annotations) = annotations else { return Ok(Vec::new()) };
    gvariant::properties_from_annotations(annotations).map_err(|(field, problem)| CgroupError::config(&field, problem))
}

/// A container's scope: the unit, and its cgroup's files.
pub struct Scope {
    unit: SystemdUnit,
    /// The files of the unit's cgroup (v1 hierarchies or the v2 directory).
    files: Box<dyn Cgroup>,
    paths: CgroupPaths,
    description: String,
    /// From `org.systemd.property.*` annotations, sent last (runc's order).
    annotated: Vec<Property>,
    bus: RefCell<Option<Manager>>,
    systemd_version: Cell<Option<u32>>,
    /// True once the unit exists: only then may it be stopped.
    started: Cell<bool>,
    /// The resources given before the unit exists, sent with it.
    pending: RefCell<Option<LinuxResources>>,
}

impl Scope {
    /// A scope still to be made by `add_process` (create), with the
    /// properties of the config's annotations.
    pub fn new(unit: SystemdUnit, paths: &CgroupPaths, id: &str, annotated: Vec<Property>) -> Scope {
        Scope {
            unit,
            files: super::open(paths),
            paths: paths.clone(),
            // runc's "libcontainer container <id>".
            description: format!("husk container {id}"),
            annotated,
            bus: RefCell::new(None),
            systemd_version: Cell::new(None),
            started: Cell::new(false),
            pending: RefCell::new(None),
        }
    }

    /// The scope of a recorded container (update, delete).
    pub fn existing(unit: SystemdUnit, paths: &CgroupPaths, id: &str) -> Scope {
        let scope = Scope::new(unit, paths, id, Vec::new());
        scope.started.set(true);
        scope
    }

    fn with_bus<T>(&self, f: impl FnOnce(&mut Manager) -> Result<T, SystemdError>) -> Result<T> {
        let mut bus = self.bus.borrow_mut();
        if bus.is_none() {
            *bus = Some(if self.unit.user { Manager::user()? } else { Manager::system()? });
        }
        Ok(f(bus.as_mut().expect("connected above"))?)
    }

    fn version(&self) -> Result<u32> {
        if let Some(version) = self.systemd_version.get() {
            return Ok(version);
        }
        let version = self.with_bus(|m| m.version())?;
        self.systemd_version.set(Some(version));
        Ok(version)
    }

    fn layout(&self) -> Layout {
        match self.paths {
            CgroupPaths::V2(_) => Layout::Unified,
            CgroupPaths::V1(_) => Layout::Legacy,
        }
    }

    fn resource_properties(&self, resources: &LinuxResources) -> Result<Vec<Property>> {
        let (props, warnings) = unit_properties::resources(resources, self.layout(), self.version()?)?;
        for warning in warnings {
            crate::logging::warn(&format!("{}: {warning}", self.unit.unit));
        }
        Ok(props)
    }

    /// The properties runc's Apply sends, then the resources.
    fn start_properties(&self, pid: i32) -> Result<Vec<Property>> {
        let is_slice = self.unit.unit.ends_with(".slice");
        let mut props = vec![Property::new("Description", Value::str(&self.description))];
        if is_slice {
            // A slice's parent is its Wants=; a slice holds no processes of
            // its own: the init is written to its cgroup afterwards.
            props.push(Property::new("Wants", Value::str_array(&[&self.unit.slice])));
        } else {
            props.push(Property::new("Slice", Value::str(&self.unit.slice)));
            props.push(Property::new("PIDs", Value::u32_array(&[pid as u32])));
            props.push(Property::new("Delegate", Value::Bool(true)));
        }
        let io_accounting = match self.layout() {
            Layout::Unified => "IOAccounting",
            Layout::Legacy => "BlockIOAccounting",
        };
        for accounting in ["MemoryAccounting", "CPUAccounting", io_accounting, "TasksAccounting"] {
            props.push(Property::new(accounting, Value::Bool(true)));
        }
        props.push(Property::new("DefaultDependencies", Value::Bool(false)));
        if let Some(resources) = self.pending.borrow().as_ref() {
            props.extend(self.resource_properties(resources)?);
        }
        props.extend(self.annotated.iter().cloned());
        Ok(props)
    }

    /// Makes the unit with the init in it, then what systemd did not make:
    /// the v1 hierarchies it does not manage (cpuset, freezer, …) and the
    /// controllers of a v2 scope, and writes the resources' files.
    fn start(&self, pid: i32) -> Result<()> {
        let props = self.start_properties(pid)?;
        let unit = &self.unit.unit;
        if let Err(e) = self.with_bus(|m| m.start_transient_unit(unit, "replace", &props, &[])) {
            // A failed unit would keep the name taken (runc does the same).
            let _ = self.with_bus(|m| m.reset_failed_unit(unit));
            return Err(e);
        }
        self.started.set(true);
        super::complete_made_cgroup(&self.paths)?;
        self.files.add_process(pid)?;
        if let Some(resources) = self.pending.borrow_mut().take() {
            self.files.apply(&resources)?;
        }
        Ok(())
    }
}

impl Cgroup for Scope {
    /// Connects to systemd (so that a host without it fails here, before
    /// anything is made) and refuses a unit that is active: it belongs to
    /// someone else. A failed or inactive leftover of that name is reset.
    fn create(&self) -> Result<()> {
        let unit = &self.unit.unit;
        let state = self.with_bus(|m| match m.get_unit(unit)? {
            Some(path) => Ok(m.property(&path, "org.freedesktop.systemd1.Unit", "ActiveState")?.as_str().map(String::from)),
            None => Ok(None),
        })?;
        match state.as_deref() {
            None => {}
            Some("inactive" | "failed") => self.with_bus(|m| m.reset_failed_unit(unit))?,
            Some(active) => {
                return Err(CgroupError::State {
                    path: super::first_path(&self.paths),
                    message: format!("systemd unit {unit} already exists and is {active}"),
                });
            }
        }
        super::check_paths_unused(&self.paths)
    }

    fn apply(&self, resources: &LinuxResources) -> Result<()> {
        if !self.started.get() {
            *self.pending.borrow_mut() = Some(resources.clone());
            return Ok(());
        }
        let props = self.resource_properties(resources)?;
        let unit = &self.unit.unit;
        self.with_bus(|m| m.set_unit_properties(unit, true, &props))?;
        self.files.apply(resources)
    }

    fn add_process(&self, pid: i32) -> Result<()> {
        if self.started.get() { self.files.add_process(pid) } else { self.start(pid) }
    }

    /// Nothing before the unit exists: its cgroup is made by systemd.
    fn entry(&self) -> Entry {
        if self.started.get() { self.files.entry() } else { Entry::default() }
    }

    fn pids(&self) -> Result<Vec<i32>> {
        self.files.pids()
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        self.files.set_frozen(frozen)
    }

    fn is_frozen(&self) -> bool {
        self.files.is_frozen()
    }

    fn signal_all(&self, signal: i32) -> Result<()> {
        self.files.signal_all(signal)
    }

    fn oom_kills(&self) -> u64 {
        self.files.oom_kills()
    }

    fn stats(&self) -> stats::Stats {
        self.files.stats()
    }

    /// Stops the unit (systemd removes its cgroup; a scope whose processes
    /// all exited is already gone) and removes what systemd did not make.
    fn destroy(&self) -> Result<()> {
        if self.started.get() {
            let unit = &self.unit.unit;
            self.with_bus(|m| m.stop_unit(unit, "replace"))?;
            self.with_bus(|m| m.reset_failed_unit(unit))?;
        }
        self.files.destroy()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::recorded;
    use procfs::FromBufRead;
    use std::path::Path;

    fn init_cgroups(text: &str) -> Vec<procfs::ProcessCGroup> {
        procfs::ProcessCGroups::from_buf_read(std::io::Cursor::new(text)).unwrap().0
    }

    #[test]
    fn a_scope_on_v2_is_under_its_slices() {
        let host = recorded::v2();
        let (unit, paths) = SystemdUnit::resolve(&host, &init_cgroups("0::/init.scope\n"), Some("a-b.slice:husk:c1"), "c1").unwrap();
        assert_eq!(unit, SystemdUnit { unit: "husk-c1.scope".into(), slice: "a-b.slice".into(), user: false });
        assert_eq!(paths, CgroupPaths::V2("/sys/fs/cgroup/a.slice/a-b.slice/husk-c1.scope".into()));
        let (unit, paths) = SystemdUnit::resolve(&host, &[], None, "web").unwrap();
        assert_eq!(unit.unit, "runc-web.scope");
        assert_eq!(paths, CgroupPaths::V2("/sys/fs/cgroup/system.slice/runc-web.scope".into()));
    }

    #[test]
    fn on_v1_hierarchies_the_slices_are_under_pid_1_less_init_scope() {
        let host = recorded::v1_hybrid();
        // PID 1's cgroups as systemd 252 has them on a hybrid host: the
        // named and unified hierarchies in init.scope, controllers at the root.
        let names = ["blkio", "cpu", "cpuacct", "cpuset", "devices", "freezer", "memory", "pids"];
        let mut text = String::from("0::/init.scope\n1:name=systemd:/init.scope\n");
        for (i, name) in names.iter().enumerate() {
            text.push_str(&format!("{}:{name}:/\n", i + 2));
        }
        let (_, paths) = SystemdUnit::resolve(&host, &init_cgroups(&text), Some("system.slice:husk:c1"), "c1").unwrap();
        let CgroupPaths::V1(dirs) = paths else { panic!("v1 host") };
        assert_eq!(dirs["memory"], Path::new("/sys/fs/cgroup/memory/system.slice/husk-c1.scope"));
        assert_eq!(dirs["systemd"], Path::new("/sys/fs/cgroup/systemd/system.slice/husk-c1.scope"));
        assert_eq!(dirs["unified"], Path::new("/sys/fs/cgroup/unified/system.slice/husk-c1.scope"));
        // A PID 1 that is itself in a container's cgroup: the slices go there.
        let nested = text.replace("memory:/", "memory:/outer/init.scope");
        let (_, paths) = SystemdUnit::resolve(&host, &init_cgroups(&nested), Some("system.slice:husk:c1"), "c1").unwrap();
        let CgroupPaths::V1(dirs) = paths else { panic!("v1 host") };
        assert_eq!(dirs["memory"], Path::new("/sys/fs/cgroup/memory/outer/system.slice/husk-c1.scope"));
    }

    #[test]
    fn a_rootless_scope_is_under_the_user_managers_cgroup() {
        let manager = "/user.slice/user-1000.slice/user@1000.service";
        let (unit, paths) = SystemdUnit::resolve_user(&recorded::v2(), None, "web", || Ok(manager.into())).unwrap();
        assert_eq!(unit, SystemdUnit { unit: "runc-web.scope".into(), slice: "user.slice".into(), user: true });
        assert_eq!(paths, CgroupPaths::V2(format!("/sys/fs/cgroup{manager}/user.slice/runc-web.scope").into()));
        let error = SystemdUnit::resolve_user(&recorded::v1_hybrid(), None, "web", || panic!("no bus on v1")).err().unwrap().to_string();
        assert!(error.contains("cgroup v2"), "{error}");
    }

    #[test]
    fn malformed_paths_are_refused_with_the_field() {
        let error = SystemdUnit::resolve(&recorded::v2(), &[], Some("system.slice:husk"), "c").err().unwrap().to_string();
        assert!(error.starts_with("config.json: linux.cgroupsPath: expected cgroupsPath to be of format"), "{error}");
    }
}
