//! The five capability sets of `process.capabilities`, applied exactly.
//!
//! The bounding set is cut first, while husk still has CAP_SETPCAP; the other
//! sets are applied after the switch to the container user, which keep-caps
//! lets the permitted set survive.

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

#[derive(Debug, thiserror::Error)]
#[error("{op} {set} capabilities: {source}")]
pub struct CapabilityError {
    op: &'static str,
    set: &'static str,
    source: caps::errors::CapsError,
}

/// The config's sets, translated to the `caps` crate's names and limited to
/// what the running kernel knows (a newer config may name newer caps).
pub struct CapabilityPlan {
    /// What the running kernel knows.
    supported: CapsHashSet,
    bounding: CapsHashSet,
    effective: CapsHashSet,
    permitted: CapsHashSet,
    inheritable: CapsHashSet,
    ambient: CapsHashSet,
}

fn translate(set: &Option<Capabilities>, supported: &CapsHashSet) -> CapsHashSet {
    set.iter()
        .flatten()
        .filter_map(|c| format!("CAP_{c}").parse::<Capability>().ok())
        .filter(|c| supported.contains(c))
        .collect()
}

impl CapabilityPlan {
    /// With no `capabilities` object at all, every set is empty, as in runc.
    /// (Not `LinuxCapabilities::default()`: oci-spec's default holds the
    /// default config's three capabilities in every set.)
    pub fn new(config: Option<&LinuxCapabilities>) -> Self {
        let supported = caps::runtime::thread_all_supported();
        let set = |get: fn(&LinuxCapabilities) -> &Option<Capabilities>| {
            config.map(|c| translate(get(c), &supported)).unwrap_or_default()
        };
        CapabilityPlan {
            bounding: set(LinuxCapabilities::bounding),
            effective: set(LinuxCapabilities::effective),
            permitted: set(LinuxCapabilities::permitted),
            inheritable: set(LinuxCapabilities::inheritable),
            ambient: set(LinuxCapabilities::ambient),
            supported,
        }
    }

    /// Drops from the bounding set every capability the config leaves out:
    /// each one the kernel knows, without reading the set first (a drop of
    /// one already gone succeeds, with CAP_SETPCAP), which saves a prctl
    /// per capability; without CAP_SETPCAP, only those still in it.
    pub fn limit_bounding(&self) -> Result<(), CapabilityError> {
        if self.supported.difference(&self.bounding).all(|cap| caps::drop(None, CapSet::Bounding, *cap).is_ok()) {
            return Ok(());
        }
        let current = caps::read(None, CapSet::Bounding).map_err(|source| CapabilityError {
            op: "read",
            set: "bounding",
            source,
        })?;
        for cap in current.difference(&self.bounding) {
            caps::drop(None, CapSet::Bounding, *cap).map_err(|source| CapabilityError {
                op: "drop from",
                set: "bounding",
                source,
            })?;
        }
        Ok(())
    }

    /// Makes the effective set the whole permitted one, which keep-caps
    /// kept across the switch to the container user: loading a seccomp
    /// filter without no_new_privs takes CAP_SYS_ADMIN, until `apply`.
    pub fn raise_effective(&self) -> Result<(), CapabilityError> {
        let permitted = caps::read(None, CapSet::Permitted).map_err(|source| CapabilityError {
            op: "read",
            set: "permitted",
            source,
        })?;
        caps::set(None, CapSet::Effective, &permitted).map_err(|source| CapabilityError {
            op: "raise",
            set: "effective",
            source,
        })
    }

    /// Sets inheritable, effective, permitted and ambient, in the order the
    /// kernel allows: inheritable while effective is still full, and
    /// effective before permitted shrinks under it.
    pub fn apply(&self) -> Result<(), CapabilityError> {
        let set = |which: CapSet, name: &'static str, value: &CapsHashSet| {
            caps::set(None, which, value).map_err(|source| CapabilityError {
                op: "set",
                set: name,
                source,
            })
        };
        set(CapSet::Inheritable, "inheritable", &self.inheritable)?;
        set(CapSet::Effective, "effective", &self.effective)?;
        set(CapSet::Permitted, "permitted", &self.permitted)?;
        caps::clear(None, CapSet::Ambient).map_err(|source| CapabilityError {
            op: "clear",
            set: "ambient",
            source,
        })?;
        // The kernel only lets a capability be ambient if it is permitted and
        // inheritable. runc silently skips the others (its capability library
        // ignores the error), and configs rely on that: runc's own default
        // lists ambient caps with no inheritable set.
        let allowed = self.ambient.iter().filter(|c| self.permitted.contains(c) && self.inheritable.contains(c));
        for cap in allowed {
            caps::raise(None, CapSet::Ambient, *cap).map_err(|source| CapabilityError {
                op: "raise",
                set: "ambient",
                source,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn names(set: &CapsHashSet) -> HashSet<String> {
        set.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn translates_and_filters_to_the_kernel() {
        let config: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL"],
        }))
        .unwrap();
        let plan = CapabilityPlan::new(Some(&config));
        assert_eq!(
            names(&plan.bounding),
            HashSet::from(["CAP_KILL".to_string(), "CAP_NET_BIND_SERVICE".to_string()])
        );
        assert_eq!(names(&plan.effective), HashSet::from(["CAP_KILL".to_string()]));
        assert!(plan.permitted.is_empty() && plan.ambient.is_empty());
    }

    #[test]
    fn no_capabilities_object_means_no_capabilities() {
        let plan = CapabilityPlan::new(None);
        for set in [&plan.bounding, &plan.effective, &plan.permitted, &plan.inheritable, &plan.ambient] {
            assert!(set.is_empty(), "{set:?}");
        }
    }
}
