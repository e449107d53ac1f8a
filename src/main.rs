//! husk: an OCI container runtime, a drop-in for runc.

mod activation;
mod cgroups;
mod checkpoint;
mod cli;
mod config_error;
mod container;
mod error;
mod hooks;
mod host;
mod id_maps;
mod init;
mod intel_rdt;
mod launch;
mod logging;
mod namespaces;
mod netdev;
mod netlink;
mod process;
mod procfs;
mod rootfs;
mod rootless;
mod security;
mod signal;
mod spec;
mod state;
mod sys;
// Also built, by #[path], into the systemd VM's client example and the
// private-bus tests, which use parts husk itself does not (yet: the user
// bus is the rootless driver's).
#[allow(dead_code)]
mod systemd;
mod terminal;

use clap::Parser;

fn main() {
    logging::start_clock();
    // A parent may have left signals ignored or blocked (an ignored SIGCHLD
    // leaves nothing to reap); start from the defaults.
    sys::reset_signals();
    sys::ensure_stdio_open();
    // Before the command line is parsed: for create, run and exec, husk
    // moves onto a read-only view of its binary (CVE-2019-5736).
    let args = cli::command_line();
    if cli::puts_husk_in_a_container(&args) {
        security::exe::ensure_read_only_binary_early();
    }
    let cli = cli::Cli::parse_from(args);
    logging::init(cli.log.as_deref(), cli.log_format, cli.debug);
    match cli::dispatch(cli) {
        Ok(code) => {
            logging::debug_with(|| format!("exit status {code}"));
            std::process::exit(code)
        }
        Err(error) => {
            let message = error.to_string();
            logging::error(&message);
            if logging::has_file() {
                eprintln!("{message}");
            }
            std::process::exit(error.exit_code());
        }
    }
}
