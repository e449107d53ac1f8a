//! Links the functions husk runs on its hot path next to each other.
//!
//! The kernel maps a file-backed page fault's whole 64 KiB neighbourhood
//! (fault-around), and the functions one `create` runs are spread over all
//! of husk's 2.5 MiB of code: every husk process mapped nearly all of it,
//! which was most of `create`'s peak RSS and a page fault per 64 KiB in
//! every process (the init included: a fork copies no page tables of the
//! binary). `hot-symbols.txt` lists those functions, in the order they
//! first ran (integration/bench/hot_symbols.py writes it from callgrind and
//! perf runs of every verb); lld puts them first in .text. A name that is
//! gone after a change is skipped, so a stale list costs only the gain.
//!
//! Only for lld, which rustc uses on x86_64-unknown-linux-gnu since 1.90
//! (GNU ld has no ordering file): elsewhere the binary links as before.

use std::process::Command;

const ORDER_FILE: &str = "hot-symbols.txt";
/// The first rustc that links x86_64-unknown-linux-gnu with rust-lld.
const FIRST_LLD_MINOR: u32 = 90;

fn main() {
    println!("cargo:rerun-if-changed={ORDER_FILE}");
    println!("cargo:rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    let linker_flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    // A linker or linker flavour of the builder's own choosing may not be lld.
    let own_linker = linker_flags.contains("linker") || std::env::var_os("RUSTC_LINKER").is_some();
    if target != "x86_64-unknown-linux-gnu" || own_linker || rustc_minor().is_none_or(|minor| minor < FIRST_LLD_MINOR) {
        return;
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={dir}/{ORDER_FILE}");
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}

/// The minor version of the rustc cargo builds with (`rustc 1.95.0 (…)`).
fn rustc_minor() -> Option<u32> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().nth(1)?.split('.').nth(1)?.parse().ok()
}
