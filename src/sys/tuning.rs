//! The raw syscalls behind the process fields that tune how the kernel runs
//! a process (process::fields): sched_setattr(2), ioprio_set(2),
//! set_mempolicy(2) and personality(2), none of which nix wraps.

use nix::errno::Errno;

/// `struct sched_attr` of linux/sched/types.h, up to the utilization clamps
/// (SCHED_ATTR_SIZE_VER1, 56 bytes): the clamps stay 0, as the spec has no
/// values for them (runc passes the same zeros).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedAttr {
    pub size: u32,
    pub policy: u32,
    pub flags: u64,
    pub nice: i32,
    pub priority: u32,
    pub runtime: u64,
    pub deadline: u64,
    pub period: u64,
    pub util_min: u32,
    pub util_max: u32,
}

pub const SCHED_ATTR_SIZE: u32 = std::mem::size_of::<SchedAttr>() as u32;

/// sched_setattr(2) on the calling thread (the whole process: husk's init
/// and exec processes are single-threaded).
pub fn sched_setattr(attr: &SchedAttr) -> nix::Result<()> {
    // SAFETY: `attr` is a valid sched_attr whose `size` field says how many
    // bytes the kernel may read; it outlives the call and is only read.
    let ret = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0u32) };
    Errno::result(ret).map(drop)
}

/// `IOPRIO_WHO_PROCESS` of linux/ioprio.h.
pub const IOPRIO_WHO_PROCESS: libc::c_int = 1;

/// ioprio_set(2) of the calling process.
pub fn ioprio_set_self(ioprio: libc::c_int) -> nix::Result<()> {
    // SAFETY: three integers; the kernel touches no memory of ours.
    let ret = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, ioprio) };
    Errno::result(ret).map(drop)
}

/// set_mempolicy(2): `mode` with its MPOL_F_* flags, and the nodes as a
/// bitmask of `c_ulong` words (empty: no nodemask).
pub fn set_mempolicy(mode: libc::c_int, nodemask: &[libc::c_ulong]) -> nix::Result<()> {
    let (ptr, maxnode) = if nodemask.is_empty() {
        (std::ptr::null(), 0)
    } else {
        // The kernel reads `maxnode - 1` bits (an off-by-one it keeps for
        // compatibility; libnuma passes its mask size plus one too).
        (nodemask.as_ptr(), nodemask.len() as libc::c_ulong * libc::c_ulong::BITS as libc::c_ulong + 1)
    };
    // SAFETY: `ptr` is null with `maxnode` 0, or points at `nodemask`, which
    // holds at least `maxnode - 1` bits and outlives the call; the kernel
    // only reads it.
    let ret = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, ptr, maxnode) };
    Errno::result(ret).map(drop)
}

/// personality(2): sets the execution domain (and clears its flags).
pub fn set_personality(persona: libc::c_ulong) -> nix::Result<()> {
    // SAFETY: an integer argument; personality returns the previous persona
    // or -1.
    let ret = unsafe { libc::personality(persona) };
    Errno::result(ret).map(drop)
}
