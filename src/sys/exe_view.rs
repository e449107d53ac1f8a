//! Running on from a read-only view of husk's binary without exec'ing it
//! again (security/exe.rs): every mapping of the binary is replaced by the
//! same bytes mapped through the view, then /proc/self/exe is pointed at the
//! view (prctl PR_SET_MM_EXE_FILE, which the kernel allows only once no
//! mapping of the old path is left). What a container process could reach
//! of husk's binary (/proc/PID/exe, /proc/PID/map_files) then leads to a
//! read-only mount, exactly as after an exec from the view; the exec's cost
//! (a second start-up, 0.5 ms of it glibc's CPUID probes on this VM, and the
//! command line parsed again) is saved. It needs CAP_SYS_RESOURCE, or
//! CAP_SYS_ADMIN for PR_SET_MM_MAP: rootless husk execs instead.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// One mapping of the binary, from /proc/self/smaps.
struct Mapping {
    start: usize,
    len: usize,
    prot: libc::c_int,
    offset: i64,
    /// Pages of it were written (relocated, or data): they are copied.
    written: bool,
}

/// The binary's mappings: those of the device and inode of /proc/self/exe.
fn mappings() -> nix::Result<Vec<Mapping>> {
    let exe = nix::sys::stat::stat(c"/proc/self/exe")?;
    let smaps = std::fs::read_to_string("/proc/self/smaps").map_err(|_| Errno::EIO)?;
    let mut found: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [range, perms, offset, dev, inode, ..] = fields[..]
            && range.contains('-')
        {
            let (major, minor) = dev.split_once(':').ok_or(Errno::EIO)?;
            let dev = libc::makedev(u32::from_str_radix(major, 16).map_err(|_| Errno::EIO)?, u32::from_str_radix(minor, 16).map_err(|_| Errno::EIO)?);
            if inode.parse::<u64>() != Ok(exe.st_ino) || dev != exe.st_dev {
                continue;
            }
            let (start, end) = range.split_once('-').ok_or(Errno::EIO)?;
            let start = usize::from_str_radix(start, 16).map_err(|_| Errno::EIO)?;
            let end = usize::from_str_radix(end, 16).map_err(|_| Errno::EIO)?;
            let bit = |i: usize, c: u8, p: libc::c_int| if perms.as_bytes().get(i) == Some(&c) { p } else { 0 };
            let prot = bit(0, b'r', libc::PROT_READ) | bit(1, b'w', libc::PROT_WRITE) | bit(2, b'x', libc::PROT_EXEC);
            let offset = i64::from_str_radix(offset, 16).map_err(|_| Errno::EIO)?;
            found.push(Mapping { start, len: end - start, prot, offset, written: false });
        } else if let (["Anonymous:", kib, ..], Some(last)) = (&fields[..], found.last_mut()) {
            last.written |= *kib != "0";
        }
    }
    Ok(found)
}

/// Moves the running process onto `view` (an O_PATH fd of a read-only
/// view of its own binary). On an error before the prctl, some mappings
/// may already be the view's: the same bytes, harmless; the caller then
/// execs from the view instead.
pub fn run_from_view(view: BorrowedFd<'_>) -> nix::Result<()> {
    let path = std::ffi::CString::new(format!("/proc/self/fd/{}", view.as_raw_fd())).map_err(|_| Errno::EINVAL)?;
    let file = nix::fcntl::open(path.as_c_str(), nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())?;
    let maps = mappings()?;
    if maps.is_empty() {
        return Err(Errno::ENOENT);
    }
    // No signal handler may write the data being copied until it is swapped.
    let all = nix::sys::signal::SigSet::all();
    let mut old = nix::sys::signal::SigSet::empty();
    nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&all), Some(&mut old))?;
    let swapped = maps.iter().try_for_each(|m| remap(m, file.as_raw_fd()));
    nix::sys::signal::sigprocmask(nix::sys::signal::SigmaskHow::SIG_SETMASK, Some(&old), None)?;
    swapped?;
    // SAFETY: PR_SET_MM_EXE_FILE takes an fd as its argument and touches no
    // memory of ours.
    let set = unsafe { libc::prctl(libc::PR_SET_MM, libc::PR_SET_MM_EXE_FILE, file.as_raw_fd() as libc::c_ulong, 0, 0) };
    match Errno::result(set) {
        // It takes CAP_SYS_RESOURCE; PR_SET_MM_MAP, which sets the same
        // link among the rest of the memory map's description, takes
        // CAP_SYS_ADMIN (or CAP_CHECKPOINT_RESTORE) instead.
        Err(Errno::EPERM) => set_exe_by_map(file.as_raw_fd()),
        other => other.map(drop),
    }
}

/// struct prctl_mm_map of <linux/prctl.h>.
#[repr(C)]
struct MmMap {
    start_code: u64,
    end_code: u64,
    start_data: u64,
    end_data: u64,
    start_brk: u64,
    brk: u64,
    start_stack: u64,
    arg_start: u64,
    arg_end: u64,
    env_start: u64,
    env_end: u64,
    auxv: *mut u64,
    auxv_size: u32,
    exe_fd: u32,
}

/// PR_SET_MM_MAP with the memory map as it is (from /proc/self/stat and
/// brk) and `file` as the new /proc/self/exe; the auxiliary vector is left
/// as it is (size 0).
fn set_exe_by_map(file: libc::c_int) -> nix::Result<()> {
    const PR_SET_MM_MAP: libc::c_ulong = 14;
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|_| Errno::EIO)?;
    let fields: Vec<u64> = stat.rsplit_once(')').ok_or(Errno::EIO)?.1.split_whitespace().skip(1).map(|f| f.parse().unwrap_or(0)).collect();
    // Field n of proc(5) is fields[n - 4] here (the state, field 3, skipped).
    let field = |n: usize| fields.get(n - 4).copied().ok_or(Errno::EIO);
    // SAFETY: brk(0) changes nothing and returns the current break.
    let brk = unsafe { libc::syscall(libc::SYS_brk, 0) } as u64;
    let map = MmMap {
        start_code: field(26)?,
        end_code: field(27)?,
        start_data: field(45)?,
        end_data: field(46)?,
        start_brk: field(47)?,
        brk,
        start_stack: field(28)?,
        arg_start: field(48)?,
        arg_end: field(49)?,
        env_start: field(50)?,
        env_end: field(51)?,
        auxv: std::ptr::null_mut(),
        auxv_size: 0,
        exe_fd: file as u32,
    };
    // SAFETY: the kernel reads one prctl_mm_map of the given size from the
    // pointer, which points at `map`, alive for the call; it writes nothing.
    let set = unsafe {
        libc::prctl(libc::PR_SET_MM, PR_SET_MM_MAP, &map as *const MmMap as libc::c_ulong, std::mem::size_of::<MmMap>() as libc::c_ulong, 0)
    };
    Errno::result(set).map(drop)
}

/// Replaces one mapping by the view's: pages never written are mapped over
/// it at once (the same file bytes at the same address, code included:
/// the next instruction is fetched from the new mapping); written ones are
/// copied into a private mapping of the view first, which then takes the
/// old one's place in one mremap.
fn remap(m: &Mapping, file: libc::c_int) -> nix::Result<()> {
    let fixed = libc::MAP_PRIVATE | libc::MAP_FIXED;
    if !m.written {
        // SAFETY: the range is a mapping of the very bytes `file` holds at
        // `offset` (same inode), with its protection: the memory's contents
        // do not change, so no reference into it is invalidated.
        let at = unsafe { libc::mmap(m.start as *mut libc::c_void, m.len, m.prot, fixed, file, m.offset) };
        return if at == libc::MAP_FAILED { Err(Errno::last()) } else { Ok(()) };
    }
    // SAFETY: a new private mapping at an address of the kernel's choosing;
    // nothing else refers to it.
    let copy = unsafe { libc::mmap(std::ptr::null_mut(), m.len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE, file, m.offset) };
    if copy == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    // SAFETY: both ranges are mapped, readable (the old one: written pages
    // of the binary, never unreadable) and `m.len` long; they do not
    // overlap. Signals are blocked and nothing between the copy and the
    // mremap writes memory (raw system calls only), so no write is lost.
    unsafe {
        std::ptr::copy_nonoverlapping(m.start as *const u8, copy as *mut u8, m.len);
        if libc::mprotect(copy, m.len, m.prot) != 0 {
            let e = Errno::last();
            libc::munmap(copy, m.len);
            return Err(e);
        }
        let moved = libc::mremap(copy, m.len, m.len, libc::MREMAP_MAYMOVE | libc::MREMAP_FIXED, m.start as *mut libc::c_void);
        if moved == libc::MAP_FAILED {
            let e = Errno::last();
            libc::munmap(copy, m.len);
            return Err(e);
        }
    }
    Ok(())
}
