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

/// One mapping of the binary, from /proc/self/maps.
#[derive(Debug, PartialEq)]
struct Mapping {
    start: usize,
    len: usize,
    prot: libc::c_int,
    offset: i64,
    /// It lies in a writable segment (data, and RELRO, which was written
    /// at start-up and made read-only): its pages are copied. The others'
    /// pages are the file's own, never written.
    written: bool,
}

/// The binary's mappings: those of the device and inode of /proc/self/exe.
/// /proc/self/maps, not smaps, whose counts of written pages cost a walk
/// of every page table; which pages were written follows from the
/// program headers instead.
fn mappings() -> nix::Result<Vec<Mapping>> {
    let exe = nix::sys::stat::stat(c"/proc/self/exe")?;
    let maps = std::fs::read_to_string("/proc/self/maps").map_err(|_| Errno::EIO)?;
    parse_maps(&maps, exe.st_dev, exe.st_ino, &writable_segments()?).ok_or(Errno::EIO)
}

/// The lines of `maps` of file `dev`/`ino`; None if a line is malformed.
fn parse_maps(maps: &str, dev: u64, ino: u64, writable: &[(usize, usize)]) -> Option<Vec<Mapping>> {
    let mut found = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_ascii_whitespace();
        let (range, perms, offset, device, inode) = (fields.next()?, fields.next()?, fields.next()?, fields.next()?, fields.next()?);
        let (major, minor) = device.split_once(':')?;
        let device = libc::makedev(u32::from_str_radix(major, 16).ok()?, u32::from_str_radix(minor, 16).ok()?);
        if inode.parse::<u64>().ok()? != ino || device != dev {
            continue;
        }
        let (start, end) = range.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        let bit = |i: usize, c: u8, p: libc::c_int| if perms.as_bytes().get(i) == Some(&c) { p } else { 0 };
        let prot = bit(0, b'r', libc::PROT_READ) | bit(1, b'w', libc::PROT_WRITE) | bit(2, b'x', libc::PROT_EXEC);
        let written = writable.iter().any(|&(from, to)| start < to && from < end);
        found.push(Mapping { start, len: end - start, prot, offset: i64::from_str_radix(offset, 16).ok()?, written });
    }
    Some(found)
}

/// The address ranges of the binary's writable segments (PT_LOAD with
/// PF_W; RELRO lies in one), page-aligned, from its program headers in
/// memory.
fn writable_segments() -> nix::Result<Vec<(usize, usize)>> {
    // SAFETY: getauxval only reads the auxiliary vector.
    let (phdr, phnum) = unsafe { (libc::getauxval(libc::AT_PHDR) as usize, libc::getauxval(libc::AT_PHNUM) as usize) };
    if phdr == 0 || phnum == 0 {
        return Err(Errno::ENOENT);
    }
    // SAFETY: the kernel maps the executable's AT_PHNUM program headers
    // at AT_PHDR (inside its first segment) for the process's life; they
    // are only read here, and the remap that follows keeps their bytes.
    let headers = unsafe { std::slice::from_raw_parts(phdr as *const libc::Elf64_Phdr, phnum) };
    let bias = headers.iter().find(|h| h.p_type == libc::PT_PHDR).map(|h| phdr.wrapping_sub(h.p_vaddr as usize)).ok_or(Errno::ENOENT)?;
    let page = 4096usize;
    Ok(headers
        .iter()
        .filter(|h| h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_W != 0)
        .map(|h| {
            let from = bias.wrapping_add(h.p_vaddr as usize);
            (from & !(page - 1), (from + h.p_memsz as usize).next_multiple_of(page))
        })
        .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Recorded from husk (lld, static, not PIE) on the test machine.
    const MAPS: &str = "\
00200000-00330000 r--p 00000000 fe:00 5365844                            /work/husk
00330000-005c0000 r-xp 0012f000 fe:00 5365844                            /work/husk
005c0000-005c4000 r--p 003be000 fe:00 5365844                            /work/husk
005c4000-005c8000 rw-p 003c1000 fe:00 5365844                            /work/husk
005c8000-005cf000 rw-p 00000000 00:00 0
24d8b000-24dad000 rw-p 00000000 00:00 0                                  [heap]
7ffc67c73000-7ffc67c94000 rw-p 00000000 00:00 0                          [stack]
";

    #[test]
    fn the_binarys_mappings_and_which_were_written() {
        let writable = [(0x5c0000, 0x5c5000), (0x5c5000, 0x5cf000)];
        let found = parse_maps(MAPS, libc::makedev(0xfe, 0), 5365844, &writable).unwrap();
        let summary: Vec<(usize, usize, bool)> = found.iter().map(|m| (m.start, m.len, m.written)).collect();
        assert_eq!(summary, [(0x200000, 0x130000, false), (0x330000, 0x290000, false), (0x5c0000, 0x4000, true), (0x5c4000, 0x4000, true)]);
        assert_eq!(found[1].prot, libc::PROT_READ | libc::PROT_EXEC);
        assert_eq!(found[1].offset, 0x12f000);
        assert!(parse_maps(MAPS, libc::makedev(0xfe, 0), 1, &writable).unwrap().is_empty());
        assert!(parse_maps("zz-00 r--p", 0, 0, &writable).is_none());
    }

    #[test]
    fn this_binary_has_writable_segments() {
        let segments = writable_segments().unwrap();
        assert!(!segments.is_empty());
        assert!(segments.iter().all(|(from, to)| from % 4096 == 0 && to % 4096 == 0 && from < to));
    }
}
