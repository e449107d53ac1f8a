//! Security settings of the container process. Capabilities for now;
//! seccomp and the LSMs come with their own modules.

pub mod capabilities;
