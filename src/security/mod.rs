//! Security settings of the container process: capabilities and seccomp;
//! the LSMs come with their own modules.

pub mod capabilities;
pub mod seccomp;
mod syscalls;
