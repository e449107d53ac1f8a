//! The `bpf(2)` commands husk needs to enforce device rules on cgroup v2:
//! load a program, attach it to a cgroup, list, inspect and detach the
//! programs attached there.
//!
//! libc exposes `SYS_bpf` but neither `union bpf_attr` nor `struct
//! bpf_prog_info`, so each command gets its own `#[repr(C)]` struct below,
//! laid out exactly like the member of `union bpf_attr` (linux/bpf.h) that the
//! command reads. The kernel zero-fills the part of the union beyond the size
//! we pass, so a struct that stops after the last field we use is enough; the
//! fields the kernel marks `__aligned_u64` are `u64`s placed at offsets that
//! are multiples of 8, with explicit padding, so the layout is the same on
//! every architecture (checked at compile time below).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// `BPF_PROG_TYPE_CGROUP_DEVICE` (enum bpf_prog_type).
pub const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE` (enum bpf_attach_type).
pub const ATTACH_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: several programs may be attached to the cgroup; all
/// of them must allow.
pub const F_ALLOW_MULTI: u32 = 1 << 1;
/// `BPF_F_REPLACE`: atomically replace the program given in `replace_bpf_fd`.
pub const F_REPLACE: u32 = 1 << 2;
/// `BPF_OBJ_NAME_LEN`: program names hold at most 15 bytes and a NUL.
pub const OBJ_NAME_LEN: usize = 16;

// enum bpf_cmd.
const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_OBJ_GET_INFO_BY_FD: libc::c_int = 15;
const BPF_PROG_QUERY: libc::c_int = 16;

/// One eBPF instruction, `struct bpf_insn`:
/// `{ __u8 code; __u8 dst_reg:4; __u8 src_reg:4; __s16 off; __s32 imm; }`.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u8,
    /// dst_reg and src_reg, two 4-bit fields sharing one byte; the order of
    /// C bit-fields follows the byte order, hence `Insn::new` and the getters.
    regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        let (dst, src) = (dst & 0xf, src & 0xf);
        #[cfg(target_endian = "little")]
        let regs = dst | (src << 4);
        #[cfg(target_endian = "big")]
        let regs = (dst << 4) | src;
        Insn { code, regs, off, imm }
    }

    pub const fn dst(&self) -> u8 {
        #[cfg(target_endian = "little")]
        return self.regs & 0xf;
        #[cfg(target_endian = "big")]
        return self.regs >> 4;
    }

    pub const fn src(&self) -> u8 {
        #[cfg(target_endian = "little")]
        return self.regs >> 4;
        #[cfg(target_endian = "big")]
        return self.regs & 0xf;
    }
}

impl std::fmt::Debug for Insn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (code, dst, src, off, imm) = (self.code, self.dst(), self.src(), self.off, self.imm);
        write!(f, "Insn {{ code: {code:#04x}, dst: {dst}, src: {src}, off: {off}, imm: {imm} }}")
    }
}

/// The `BPF_PROG_LOAD` member of `union bpf_attr`, up to
/// `expected_attach_type`.
#[repr(C)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; OBJ_NAME_LEN],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH`/`BPF_PROG_DETACH` member, up to `replace_bpf_fd`
/// (which kernels before 5.6 do not know; it must then stay 0).
#[repr(C)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// The `BPF_PROG_QUERY` member, up to `prog_cnt` and its padding.
#[repr(C)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
}

/// The `BPF_*_GET_FD_BY_ID` member.
#[repr(C)]
struct GetFdByIdAttr {
    id: u32,
    next_id: u32,
    open_flags: u32,
}

/// The `BPF_OBJ_GET_INFO_BY_FD` member.
#[repr(C)]
struct InfoAttr {
    bpf_fd: u32,
    info_len: u32,
    info: u64,
}

/// `struct bpf_prog_info` up to `name`; the kernel fills only the `info_len`
/// bytes we ask for.
#[repr(C)]
struct ProgInfo {
    prog_type: u32,
    id: u32,
    tag: [u8; 8],
    jited_prog_len: u32,
    xlated_prog_len: u32,
    jited_prog_insns: u64,
    xlated_prog_insns: u64,
    load_time: u64,
    created_by_uid: u32,
    nr_map_ids: u32,
    map_ids: u64,
    name: [u8; OBJ_NAME_LEN],
}

// The layouts above must match the kernel's byte for byte.
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<Insn>() == 8);
    assert!(offset_of!(Insn, off) == 2 && offset_of!(Insn, imm) == 4);
    assert!(offset_of!(ProgLoadAttr, insns) == 8);
    assert!(offset_of!(ProgLoadAttr, log_buf) == 32);
    assert!(offset_of!(ProgLoadAttr, prog_name) == 48);
    assert!(offset_of!(ProgLoadAttr, expected_attach_type) == 68);
    assert!(size_of::<ProgLoadAttr>() == 72);
    assert!(size_of::<AttachAttr>() == 20);
    assert!(offset_of!(QueryAttr, prog_ids) == 16 && offset_of!(QueryAttr, prog_cnt) == 24);
    assert!(size_of::<QueryAttr>() == 32);
    assert!(size_of::<GetFdByIdAttr>() == 12);
    assert!(offset_of!(InfoAttr, info) == 8 && size_of::<InfoAttr>() == 16);
    assert!(offset_of!(ProgInfo, jited_prog_insns) == 24);
    assert!(offset_of!(ProgInfo, map_ids) == 56);
    assert!(offset_of!(ProgInfo, name) == 64 && size_of::<ProgInfo>() == 80);
};

/// Calls bpf(2) with one of the attr structs above.
///
/// # Safety
/// `attr` must be the struct the kernel expects for `cmd`, and every pointer
/// stored in it must be valid for the accesses the command makes (reads of
/// inputs, writes of outputs of the sizes given next to them) for the
/// duration of the call.
unsafe fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> nix::Result<libc::c_long> {
    // SAFETY: `attr` is a live, exclusively borrowed struct of exactly the
    // size passed; the kernel copies at most that many bytes in and, for
    // commands with outputs, writes back within it. The caller vouches for
    // the pointers inside it.
    let ret = unsafe {
        libc::syscall(libc::SYS_bpf, cmd, attr as *mut T as *mut libc::c_void, std::mem::size_of::<T>() as libc::c_uint)
    };
    Errno::result(ret)
}

fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    fd.as_raw_fd() as u32
}

/// Copies a name into the kernel's fixed NUL-terminated field, cut to 15
/// bytes.
fn object_name(name: &str) -> [u8; OBJ_NAME_LEN] {
    let mut field = [0u8; OBJ_NAME_LEN];
    for (dst, src) in field.iter_mut().zip(name.bytes().take(OBJ_NAME_LEN - 1)) {
        *dst = src;
    }
    field
}

/// `BPF_PROG_LOAD`: verifies and loads `insns` as a program of `prog_type`,
/// named `name` (at most 15 bytes of `[A-Za-z0-9_.]`). With `log`, the
/// verifier writes its log (level 1) there, NUL-terminated.
pub fn prog_load(
    prog_type: u32,
    insns: &[Insn],
    license: &CStr,
    name: &str,
    log: Option<&mut [u8]>,
) -> nix::Result<OwnedFd> {
    let (log_level, log_size, log_buf) = match log {
        Some(buf) if !buf.is_empty() => (1, buf.len().min(u32::MAX as usize) as u32, buf.as_mut_ptr() as usize as u64),
        _ => (0, 0, 0),
    };
    let mut attr = ProgLoadAttr {
        prog_type,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| Errno::E2BIG)?,
        insns: insns.as_ptr() as usize as u64,
        license: license.as_ptr() as usize as u64,
        log_level,
        log_size,
        log_buf,
        kern_version: 0,
        prog_flags: 0,
        prog_name: object_name(name),
        prog_ifindex: 0,
        expected_attach_type: 0,
    };
    // SAFETY: ProgLoadAttr is the PROG_LOAD layout. `insns` points to
    // insn_cnt instructions and `license` to a NUL-terminated string, both
    // borrowed for the whole call; `log_buf`, when set, points to log_size
    // writable bytes borrowed mutably for the whole call.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &mut attr)? };
    // SAFETY: on success PROG_LOAD returns a new fd (with O_CLOEXEC) that
    // nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// `BPF_PROG_ATTACH`: attaches `prog` to the cgroup `target`. With
/// `replace` (and `F_REPLACE` in `flags`), swaps it for that program
/// atomically.
pub fn prog_attach(
    target: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
    replace: Option<BorrowedFd<'_>>,
) -> nix::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(target),
        attach_bpf_fd: fd_u32(prog),
        attach_type,
        attach_flags: flags,
        replace_bpf_fd: replace.map_or(0, fd_u32),
    };
    // SAFETY: AttachAttr is the PROG_ATTACH layout; it holds no pointers,
    // only fds that stay open (borrowed) for the call.
    unsafe { bpf(BPF_PROG_ATTACH, &mut attr) }.map(drop)
}

/// `BPF_PROG_DETACH`: detaches `prog` from the cgroup `target`.
pub fn prog_detach(target: BorrowedFd<'_>, prog: BorrowedFd<'_>, attach_type: u32) -> nix::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(target),
        attach_bpf_fd: fd_u32(prog),
        attach_type,
        attach_flags: 0,
        replace_bpf_fd: 0,
    };
    // SAFETY: as in prog_attach: no pointers, borrowed fds.
    unsafe { bpf(BPF_PROG_DETACH, &mut attr) }.map(drop)
}

/// `BPF_PROG_QUERY`: the ids of the programs attached to the cgroup `target`
/// itself (not inherited from its ancestors), in execution order.
pub fn prog_query(target: BorrowedFd<'_>, attach_type: u32) -> nix::Result<Vec<u32>> {
    let mut ids = vec![0u32; 16];
    loop {
        let mut attr = QueryAttr {
            target_fd: fd_u32(target),
            attach_type,
            query_flags: 0,
            attach_flags: 0,
            prog_ids: ids.as_mut_ptr() as usize as u64,
            prog_cnt: ids.len() as u32,
            _pad: 0,
        };
        // SAFETY: QueryAttr is the PROG_QUERY layout; `prog_ids` points to
        // `prog_cnt` writable u32s of `ids`, which outlives the call.
        match unsafe { bpf(BPF_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // More programs than room: prog_cnt now holds how many there
            // are; try again with that (and some slack for a race).
            Err(Errno::ENOSPC) if (attr.prog_cnt as usize) >= ids.len() => {
                ids = vec![0u32; attr.prog_cnt as usize + 16];
            }
            Err(e) => return Err(e),
        }
    }
}

/// `BPF_PROG_GET_FD_BY_ID`: a new fd for the loaded program `id`.
pub fn prog_get_fd_by_id(id: u32) -> nix::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr { id, next_id: 0, open_flags: 0 };
    // SAFETY: GetFdByIdAttr is the GET_FD_BY_ID layout; it holds no pointers.
    let fd = unsafe { bpf(BPF_PROG_GET_FD_BY_ID, &mut attr)? };
    // SAFETY: on success the kernel returns a new fd nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) })
}

/// What `prog_info` reports about a loaded program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramInfo {
    pub id: u32,
    pub prog_type: u32,
    pub name: String,
}

/// `BPF_OBJ_GET_INFO_BY_FD` on a program fd: its id, type and name.
pub fn prog_info(prog: BorrowedFd<'_>) -> nix::Result<ProgramInfo> {
    let mut info = ProgInfo {
        prog_type: 0,
        id: 0,
        tag: [0; 8],
        jited_prog_len: 0,
        xlated_prog_len: 0,
        jited_prog_insns: 0,
        xlated_prog_insns: 0,
        load_time: 0,
        created_by_uid: 0,
        nr_map_ids: 0,
        map_ids: 0,
        name: [0; OBJ_NAME_LEN],
    };
    let mut attr = InfoAttr {
        bpf_fd: fd_u32(prog),
        info_len: std::mem::size_of::<ProgInfo>() as u32,
        info: &mut info as *mut ProgInfo as usize as u64,
    };
    // SAFETY: InfoAttr is the GET_INFO_BY_FD layout; `info` points to
    // info_len writable bytes of `info`, which outlives the call. Its
    // buffer pointers (jited/xlated insns, map ids) are null with zero
    // lengths, so the kernel writes nothing through them.
    unsafe { bpf(BPF_OBJ_GET_INFO_BY_FD, &mut attr)? };
    let len = info.name.iter().position(|&b| b == 0).unwrap_or(OBJ_NAME_LEN);
    Ok(ProgramInfo {
        id: info.id,
        prog_type: info.prog_type,
        name: String::from_utf8_lossy(&info.name[..len]).into_owned(),
    })
}
