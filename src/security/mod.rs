//! Security settings of the container process: capabilities, seccomp, and
//! the LSMs (AppArmor, SELinux).

pub mod capabilities;
pub mod exe;
pub mod lsm;
pub mod seccomp;
mod syscalls;
