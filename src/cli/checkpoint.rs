//! `checkpoint` and `restore`'s flags, runc's.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::checkpoint::CommonOptions;
use crate::checkpoint::dump::DumpOptions;
use crate::checkpoint::restore::RestoreOptions;

/// The flags both verbs have.
#[derive(Args, Debug, Clone)]
pub struct CriuFlags {
    /// Path for the criu image files (default: ./checkpoint).
    #[arg(long = "image-path")]
    pub image_path: Option<PathBuf>,
    /// Path for criu's work files and logs.
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets.
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs.
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks, for safety.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// cgroups mode: soft|full|strict|ignore (default: soft).
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace, but do not restore its properties.
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images.
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Use userfaultfd to lazily restore memory pages.
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
}

impl CriuFlags {
    /// `criu` is the global `--criu`, else "criu" on PATH.
    pub fn options(&self, criu: Option<&Path>) -> CommonOptions {
        CommonOptions {
            criu: criu.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("criu")),
            // runc's default: "checkpoint" in the working directory.
            image_path: absolute(self.image_path.as_deref().unwrap_or(Path::new("checkpoint"))),
            work_path: self.work_path.as_deref().map(absolute),
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            manage_cgroups_mode: self.manage_cgroups_mode.clone(),
            empty_ns: self.empty_ns.clone(),
            auto_dedup: self.auto_dedup,
            lazy_pages: self.lazy_pages,
        }
    }
}

/// From the working directory, as runc takes its default.
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[derive(Args, Debug, Clone)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuFlags,
    /// Path for previous criu image files in pre-dump (relative to the image path).
    #[arg(long = "parent-path")]
    pub parent_path: Option<PathBuf>,
    /// Leave the process running after checkpointing.
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Dump the container's memory only, leaving it running.
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// criu writes \0 to this fd once lazy-pages is ready.
    #[arg(long = "status-fd", default_value_t = -1, allow_negative_numbers = true)]
    pub status_fd: i32,
    /// ADDRESS:PORT of the page server.
    #[arg(long = "page-server")]
    pub page_server: Option<String>,
    pub id: String,
}

impl CheckpointArgs {
    pub fn options(&self, criu: Option<&Path>) -> DumpOptions {
        DumpOptions {
            common: self.criu.options(criu),
            parent_path: self.parent_path.clone(),
            leave_running: self.leave_running,
            pre_dump: self.pre_dump,
            status_fd: self.status_fd,
            page_server: self.page_server.clone(),
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuFlags,
    /// Path to the bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Do not wait for the container.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the container's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Accepted for runc compatibility: husk always reaps its children.
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Accepted for runc compatibility: CRIU sets up the restored root itself.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    pub id: String,
}

impl RestoreArgs {
    pub fn options(&self, criu: Option<&Path>) -> RestoreOptions {
        RestoreOptions { common: self.criu.options(criu) }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn runcs_checkpoint_flags() {
        let cli = Cli::try_parse_from([
            "husk", "--criu", "/opt/criu", "checkpoint", "--image-path", "/i", "--work-path", "/w", "--parent-path", "../pre",
            "--leave-running", "--tcp-established", "--ext-unix-sk", "--shell-job", "--file-locks", "--pre-dump",
            "--manage-cgroups-mode", "full", "--empty-ns", "network", "--auto-dedup", "--lazy-pages", "--status-fd", "5",
            "--page-server", "h:1", "c1",
        ])
        .unwrap();
        let Some(Command::Checkpoint(args)) = &cli.command else { panic!("not a checkpoint") };
        let options = args.options(cli.criu.as_deref());
        assert_eq!(options.common.criu, std::path::Path::new("/opt/criu"));
        assert!(options.leave_running && options.pre_dump && options.common.lazy_pages && options.common.auto_dedup);
        assert_eq!((options.status_fd, options.page_server.as_deref()), (5, Some("h:1")));
        assert_eq!(options.common.empty_ns, ["network"]);
        assert_eq!(args.id, "c1");
    }

    #[test]
    fn restore_defaults_as_runc() {
        let cli = Cli::try_parse_from(["husk", "restore", "-d", "--no-subreaper", "--no-pivot", "c1"]).unwrap();
        let Some(Command::Restore(args)) = &cli.command else { panic!("not a restore") };
        let options = args.options(None);
        assert_eq!(options.common.criu, std::path::Path::new("criu"));
        assert_eq!(options.common.image_path, std::env::current_dir().unwrap().join("checkpoint"));
        assert!(args.detach);
        assert_eq!(args.bundle, std::path::Path::new("."));
    }
}
