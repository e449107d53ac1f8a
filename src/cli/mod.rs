//! The command line, runc's: global flags, then a verb.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};

mod checkpoint;
mod exec;
mod features;
mod go_flags;
mod resources;

use crate::config_error::ConfigError;
use crate::container::{self, create::CreateOptions, run};
use crate::error::{Error, Result};
use crate::logging;
use crate::rootless::{Caller, RootlessFlag};
use crate::state::Store;

/// A command line husk cannot act on.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("no command given; see husk --help")]
    NoCommand,
    /// runc's words, without -p and with it.
    #[error("process args cannot be empty")]
    NoExecCommand,
    #[error("args must not be empty")]
    NoProcessArgs,
    #[error("File {} exists. Remove it first", .0.display())]
    SpecExists(PathBuf),
    #[error("--{flag} {value:?}: {problem}")]
    Flag { flag: &'static str, value: String, problem: String },
    /// A file given on the command line (process.json, --resources).
    #[error(transparent)]
    File(#[from] ConfigError),
    #[error("ps {args}: {problem}")]
    Ps { args: String, problem: String },
}

/// The global flags come before the verb, as runc's (urfave/cli) take
/// them: not clap's `global`, which copies each into every verb's flags
/// on every call.
#[derive(Parser, Debug)]
#[command(name = "husk", about = "An OCI container runtime", disable_version_flag = true)]
pub struct Cli {
    /// Root directory for container state (default /run/husk, or
    /// $XDG_RUNTIME_DIR/husk when husk is not the host's root).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Log file (default: stderr).
    #[arg(long)]
    pub log: Option<PathBuf>,
    #[arg(long = "log-format", value_enum, default_value = "text")]
    pub log_format: logging::Format,
    /// Log debug messages.
    #[arg(long)]
    pub debug: bool,
    /// Manage cgroups through systemd.
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto.
    #[arg(long, value_parser = ["true", "false", "auto"])]
    pub rootless: Option<String>,
    /// The criu binary for checkpoint and restore (default: criu on PATH).
    #[arg(long)]
    pub criu: Option<PathBuf>,
    /// Print the version.
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Path to the bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to send the pty master to.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// File to write the container's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N extra fds (from 3 on) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Unix socket to send a pidfd of the container's init to.
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    pub id: String,
}

/// Each verb's flags are made only when its verb is the one given
/// (`defer`): building clap's description of all of them took most of a
/// short call's instructions (1.0 of the 1.8 million of a `state`).
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Create a container; its process waits for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start { id: String },
    /// Create and start a container, and wait for it unless detached.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Do not wait for the container.
        #[arg(short = 'd', long)]
        detach: bool,
        /// Keep the container's state after it exits.
        #[arg(long)]
        keep: bool,
        /// Accepted for runc compatibility: husk always reaps its children.
        #[arg(long = "no-subreaper", hide = true)]
        no_subreaper: bool,
    },
    /// Print the state of a container as JSON.
    State { id: String },
    /// Send a signal to a container's init (default SIGTERM).
    Kill {
        /// Signal every process of the container.
        #[arg(short = 'a', long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container.
    Delete {
        /// Kill a running container first.
        #[arg(short = 'f', long)]
        force: bool,
        id: String,
    },
    /// List containers.
    List {
        #[arg(short = 'f', long, value_parser = ["table", "json"], default_value = "table")]
        format: String,
        /// Print only the ids.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Freeze every process of a running container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List the processes of a container.
    Ps {
        #[arg(short = 'f', long, value_parser = ["table", "json"], default_value = "table")]
        format: String,
        id: String,
        /// Options for ps(1) in table format (default: -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Print resource usage and OOM events.
    Events {
        /// Print the statistics once and exit.
        #[arg(long)]
        stats: bool,
        /// Time between statistics, as 5s, 500ms, 1m.
        #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
        interval: std::time::Duration,
        id: String,
    },
    /// Run a new process in a running container.
    Exec(Box<exec::ExecArgs>),
    /// Change the resource limits of a running container.
    Update(Box<resources::UpdateArgs>),
    /// Checkpoint a running container with CRIU.
    Checkpoint(Box<checkpoint::CheckpointArgs>),
    /// Restore a container from a checkpoint.
    Restore(Box<checkpoint::RestoreArgs>),
    /// Print the features this husk supports, as JSON.
    Features,
    /// Write a default config.json.
    Spec {
        #[arg(short = 'b', long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
}

impl Command {
    /// The verb's name and the container it is about, for the debug log.
    fn summary(&self) -> (&'static str, Option<&str>) {
        match self {
            Command::Create(args) => ("create", Some(&args.id)),
            Command::Start { id } => ("start", Some(id)),
            Command::Run { create, .. } => ("run", Some(&create.id)),
            Command::State { id } => ("state", Some(id)),
            Command::Kill { id, .. } => ("kill", Some(id)),
            Command::Delete { id, .. } => ("delete", Some(id)),
            Command::List { .. } => ("list", None),
            Command::Pause { id } => ("pause", Some(id)),
            Command::Resume { id } => ("resume", Some(id)),
            Command::Ps { id, .. } => ("ps", Some(id)),
            Command::Events { id, .. } => ("events", Some(id)),
            Command::Exec(args) => ("exec", Some(&args.id)),
            Command::Update(args) => ("update", Some(&args.id)),
            Command::Checkpoint(args) => ("checkpoint", Some(&args.id)),
            Command::Restore(args) => ("restore", Some(&args.create.id)),
            Command::Features => ("features", None),
            Command::Spec { .. } => ("spec", None),
        }
    }
}

/// Runs the parsed command; returns the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    if cli.version {
        print!("{}", version_text());
        return Ok(0);
    }
    let Some(command) = cli.command else {
        return Err(UsageError::NoCommand.into());
    };
    // Read only by the verbs that need it: `state` with --root need not.
    let caller = std::cell::OnceCell::new();
    let caller = || caller.get_or_init(Caller::read);
    let rootless = || caller().rootless(RootlessFlag::parse(cli.rootless.as_deref()));
    let root = match &cli.root {
        Some(root) => root.clone(),
        None => {
            let root = caller().default_root();
            if root != std::path::Path::new(crate::rootless::DEFAULT_ROOT) {
                crate::rootless::prepare_runtime_dir_root(&root)?;
            }
            root
        }
    };
    let store = Store::new(root);
    let mut warn = |message: &str| logging::warn(message);
    // The verbs that put husk's binary inside a container run it from a
    // read-only view first (CVE-2019-5736; see security/exe.rs).
    if matches!(command, Command::Create(_) | Command::Run { .. } | Command::Exec(_) | Command::Restore(_)) {
        crate::security::exe::ensure_read_only_binary(caller(), &mut warn)?;
    }
    // After that check, which may run husk again from the read-only view.
    // The verb and the container only: a command's flags may carry secrets
    // (exec's --env).
    logging::debug_with(|| {
        let (verb, id) = command.summary();
        format!("husk {} {verb} {} (root {})", env!("CARGO_PKG_VERSION"), id.unwrap_or_default(), store.root().display())
    });
    let (verb, id) = command.summary();
    logging::phase(verb, id.unwrap_or_default(), "command line read");
    match command {
        Command::Create(args) => {
            container::create::create(&store, &create_options(&args, true, cli.systemd_cgroup, rootless(), caller()), &mut warn)?;
            Ok(0)
        }
        Command::Start { id } => container::start(&store, &id, &mut warn).map(|()| 0),
        Command::Run { create, detach, keep, .. } => {
            run_container(&store, &create_options(&create, detach, cli.systemd_cgroup, rootless(), caller()), keep, &mut warn)
        }
        Command::State { id } => {
            let container = store.load(&id)?;
            // Without a newline at the end, as runc.
            let text = serde_json::to_string_pretty(&store.oci_state(&container)).expect("the state serialises");
            print!("{text}");
            Ok(0)
        }
        Command::Kill { all, id, signal } => {
            let number = crate::signal::parse(&signal)?;
            container::signal(&store, &id, number, all).map(|()| 0)
        }
        Command::Delete { force, id } => container::delete(&store, &id, force, &mut warn).map(|()| 0),
        Command::List { format, quiet } => {
            list(&store, &format, quiet);
            Ok(0)
        }
        Command::Spec { bundle, rootless } => write_spec(&bundle, rootless).map(|()| 0),
        Command::Features => {
            logging::debug("features: printing what this husk supports");
            print_json(&features::features(), true);
            Ok(0)
        }
        Command::Pause { id } => container::set_paused(&store, &id, true).map(|()| 0),
        Command::Resume { id } => container::set_paused(&store, &id, false).map(|()| 0),
        Command::Ps { format, id, ps_args } => resources::ps(&store, &id, &format, &ps_args).map(|()| 0),
        Command::Events { stats, interval, id } => resources::events(&store, &id, stats, interval).map(|()| 0),
        Command::Update(args) => resources::update(&store, &args, &mut warn).map(|()| 0),
        Command::Checkpoint(args) => {
            crate::checkpoint::dump::checkpoint(&store, &args.id, &args.options(cli.criu.as_deref()), &mut warn).map(|()| 0)
        }
        Command::Restore(args) => {
            let mut opts = create_options(&args.create, args.detach, cli.systemd_cgroup, rootless(), caller());
            opts.restore = Some(args.options(cli.criu.as_deref()));
            // As runc: without --detach, restore waits for the container,
            // exits with its status and deletes it.
            run_container(&store, &opts, false, &mut warn)
        }
        Command::Exec(args) => {
            let exec = || container::exec::exec(&store, &args.options(&store)?);
            exec().map_err(|e| Error::ExecFailed(Box::new(e)))
        }
    }
}

/// husk's command line, with the long flags Go's way (`-no-subreaper`)
/// given their second dash (go_flags.rs).
pub fn command_line() -> Vec<std::ffi::OsString> {
    go_flags::with_two_dashes(std::env::args_os().collect(), Cli::command)
}

/// Whether the command line is one of the verbs that run husk from a
/// read-only view of its binary (create, run, exec), judged before clap
/// parses it, so that the move onto the view comes first (security/exe.rs).
/// Only the global flags may come before the verb; anything else, or
/// `--help` and `--version`, is left to the parse, after which the same
/// check runs.
pub fn puts_husk_in_a_container(args: &[std::ffi::OsString]) -> bool {
    let mut args = args.iter().skip(1).map(|a| a.to_str());
    while let Some(arg) = args.next() {
        match arg {
            Some("create" | "run" | "exec") => return true,
            Some("--root" | "--log" | "--log-format" | "--rootless" | "--criu") => {
                args.next();
            }
            Some("--debug" | "--systemd-cgroup") => {}
            Some(flag) if ["--root=", "--log=", "--log-format=", "--rootless=", "--criu="].iter().any(|p| flag.starts_with(p)) => {}
            _ => return false,
        }
    }
    false
}

/// `systemd_cgroup` is the global `--systemd-cgroup`: engines pass it to
/// every verb, and only create and run read it; later verbs follow the
/// driver recorded in the state.
fn create_options(args: &CreateArgs, detached: bool, systemd_cgroup: bool, rootless: bool, caller: &Caller) -> CreateOptions {
    CreateOptions {
        id: args.id.clone(),
        bundle: args.bundle.clone(),
        pid_file: args.pid_file.clone(),
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
        preserve_fds: args.preserve_fds as i32,
        listen_fds: crate::activation::listen_fds(),
        notify_socket: crate::activation::host_notify_socket(),
        console_socket: args.console_socket.clone(),
        pidfd_socket: args.pidfd_socket.clone(),
        detached,
        systemd_cgroup,
        rootless,
        caller: caller.clone(),
        restore: None,
    }
}

fn run_container(store: &Store, opts: &CreateOptions, keep: bool, warn: &mut dyn FnMut(&str)) -> Result<i32> {
    let detach = opts.detached;
    if !detach {
        run::take_over_signals()?;
        // The init may be born to an intermediate process; it must still
        // end up our child for us to wait on it.
        nix::sys::prctl::set_child_subreaper(true).map_err(container::LifecycleError::Subreaper)?;
    }
    let created = container::create::create(store, opts, warn)?;
    // A restored container runs already.
    if opts.restore.is_none()
        && let Err(e) = container::start(store, &opts.id, warn)
    {
        let _ = container::delete(store, &opts.id, true, warn);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let init = nix::unistd::Pid::from_raw(created.container.pid);
    let code = match created.console {
        Some(master) => container::proxy::proxy(init, master)?,
        None => run::wait_forwarding(init)?,
    };
    logging::phase("run", &opts.id, "container exited");
    if !keep {
        container::delete(store, &opts.id, true, warn)?;
    }
    Ok(code)
}

fn print_json(value: &impl serde::Serialize, pretty: bool) {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    println!("{}", text.expect("JSON values serialise"));
}

fn list(store: &Store, format: &str, quiet: bool) {
    let containers = store.list();
    if quiet {
        for c in &containers {
            println!("{}", c.id);
        }
        return;
    }
    if format == "json" {
        // runc prints `null` for no containers; engines parse either. The
        // owner is the state directory's, by name, as runc's list has it.
        let owners: Vec<String> = containers.iter().map(|c| store.owner_name(&c.id)).collect();
        let states: Vec<_> = containers
            .iter()
            .zip(&owners)
            .map(|(c, owner)| crate::state::OciState { owner, ..store.oci_state(c) })
            .collect();
        if states.is_empty() {
            println!("null");
        } else {
            print_json(&states, false);
        }
        return;
    }
    let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from)];
    for c in &containers {
        let state = store.oci_state(c);
        rows.push([
            c.id.clone(),
            state.pid.to_string(),
            state.status.to_string(),
            c.bundle.display().to_string(),
            c.created.clone(),
            store.owner_name(&c.id),
        ]);
    }
    let _ = std::io::stdout().write_all(format_table(&rows).as_bytes());
}

/// Columns as Go's tabwriter lays them out for runc (min width 12, padding 3).
fn format_table(rows: &[[String; 6]]) -> String {
    let mut widths = [0usize; 6];
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(5) {
            widths[i] = widths[i].max((cell.chars().count() + 3).max(12));
        }
    }
    let mut out = String::new();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if i < 5 {
                out.push_str(&format!("{cell:<width$}", width = widths[i]));
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}

fn write_spec(bundle: &std::path::Path, rootless: bool) -> Result<()> {
    let path = bundle.join(crate::spec::CONFIG_FILE);
    logging::debug_with(|| format!("spec: writing a default config (rootless: {rootless}) to {}", path.display()));
    if path.exists() {
        return Err(UsageError::SpecExists(path).into());
    }
    let text = serde_json::to_string_pretty(&crate::spec::default_config(rootless)).expect("JSON serialises");
    std::fs::write(&path, text + "\n").map_err(Error::io("write", &path))
}

/// `husk --version`, in runc's layout.
pub fn version_text() -> String {
    format!(
        "husk version {}\ncommit: {}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        option_env!("HUSK_COMMIT").unwrap_or("unknown"),
        crate::spec::OCI_VERSION
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_are_padded_like_tabwriter() {
        let rows = [
            ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"].map(String::from),
            ["a", "12", "running", "/b", "t", "root"].map(String::from),
        ];
        let table = format_table(&rows);
        let first = table.lines().next().unwrap();
        assert!(first.starts_with("ID          PID         STATUS      BUNDLE"));
        assert!(table.lines().nth(1).unwrap().starts_with("a           12          running"));
    }

    #[test]
    fn version_names_the_spec() {
        let text = version_text();
        assert!(text.starts_with("husk version "));
        assert!(text.contains("\nspec: 1.3.0\n"));
    }

    #[test]
    fn the_verbs_that_need_the_view_are_seen_before_the_parse() {
        let early = |line: &str| puts_husk_in_a_container(&line.split(' ').map(std::ffi::OsString::from).collect::<Vec<_>>());
        assert!(early("husk create -b b c"));
        assert!(early("husk --root /r --log-format=json --debug run c"));
        assert!(early("husk --root create exec c1 true"));
        assert!(early("husk --log l --systemd-cgroup --rootless false --criu x exec c true"));
        // Not the verbs, or not certainly: the parse decides.
        assert!(!early("husk --root /r state c"));
        assert!(!early("husk --root run"));
        assert!(!early("husk --help create"));
        assert!(!early("husk --bogus create c"));
        assert!(!early("husk"));
        // Every verb it names is one the parse re-executes for.
        for line in ["husk create c", "husk run c", "husk exec c true"] {
            assert!(early(line));
            let cli = Cli::try_parse_from(line.split(' ')).unwrap();
            assert!(matches!(cli.command, Some(Command::Create(_) | Command::Run { .. } | Command::Exec(_))));
        }
    }

    #[test]
    fn flags_in_both_spellings() {
        let a = Cli::try_parse_from(["husk", "--root", "/x", "--log-format=json", "kill", "c", "9"]).unwrap();
        assert_eq!(a.root, Some(PathBuf::from("/x")));
        assert_eq!(a.log_format, logging::Format::Json);
        assert!(Cli::try_parse_from(["husk", "--bogus", "state", "c"]).is_err());
    }
}
