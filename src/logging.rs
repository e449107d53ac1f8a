//! `--log FILE` and `--log-format text|json`, in logrus's shapes, because
//! containerd's shim reads the last `"level":"error"` JSON line of the file.
//! Without `--log`, messages go to stderr.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    file: Option<File>,
    format: Format,
    debug: bool,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// When husk's main began: the phases of `--debug` count from here (in the
/// process that does the work, after any re-exec from the read-only view).
static STARTED: OnceLock<std::time::Instant> = OnceLock::new();

/// Starts the clock of `phase`; the first thing main does.
pub fn start_clock() {
    let _ = STARTED.set(std::time::Instant::now());
}

/// With `--debug`, the end of a phase of a verb, as the time since main
/// began (`create web: cgroup ready at 1.2ms`): integration/bench reads
/// these lines for its phase tables.
pub fn phase(verb: &str, id: &str, name: &str) {
    debug_with(|| format!("{verb} {id}: {name} at {:?}", since_start()));
}

/// The time since main began.
pub fn since_start() -> std::time::Duration {
    STARTED.get().map(|s| s.elapsed()).unwrap_or_default()
}

/// Opens the log. A log file that cannot be opened is reported on stderr and
/// messages go there instead.
pub fn init(path: Option<&Path>, format: Format, debug: bool) {
    let file = path.and_then(|p| {
        let opened = std::fs::OpenOptions::new().create(true).append(true).open(p);
        match opened {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("husk: cannot open log file {}: {e}", p.display());
                None
            }
        }
    });
    let _ = LOGGER.set(Logger { file, format, debug });
}

pub fn error(message: &str) {
    write("error", message);
}

pub fn warn(message: &str) {
    write("warning", message);
}

pub fn debug(message: &str) {
    if LOGGER.get().is_some_and(|l| l.debug) {
        write("debug", message);
    }
}

/// A debug line made only when `--debug` is on: the steps logged on every
/// call cost nothing otherwise.
pub fn debug_with(message: impl FnOnce() -> String) {
    if LOGGER.get().is_some_and(|l| l.debug) {
        write("debug", &message());
    }
}

/// Whether errors should also be printed plainly on stderr (runc does so).
pub fn has_file() -> bool {
    LOGGER.get().is_some_and(|l| l.file.is_some())
}

fn write(level: &str, message: &str) {
    let Some(logger) = LOGGER.get() else {
        eprintln!("{level}: {message}");
        return;
    };
    let line = format_line(logger.format, level, message, &now());
    match &logger.file {
        Some(file) => {
            let _ = (&*file).write_all(line.as_bytes());
        }
        None => eprint!("{line}"),
    }
}

fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

fn format_line(format: Format, level: &str, message: &str, time: &str) -> String {
    match format {
        Format::Json => {
            let line = serde_json::json!({"level": level, "msg": message, "time": time});
            format!("{line}\n")
        }
        Format::Text => format!("time={time:?} level={level} msg={message:?}\n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_logrus_shaped() {
        let line = format_line(Format::Json, "error", "container \"x\" does not exist", "2026-11-22T13:00:00Z");
        let value: serde_json::Value = serde_json::from_str(line.trim_end()).unwrap();
        assert_eq!(value["level"], "error");
        assert_eq!(value["msg"], "container \"x\" does not exist");
        assert_eq!(value["time"], "2026-11-22T13:00:00Z");
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
    }

    #[test]
    fn text_lines_quote_the_message() {
        let line = format_line(Format::Text, "warning", "a \"b\"", "T");
        assert_eq!(line, "time=\"T\" level=warning msg=\"a \\\"b\\\"\"\n");
    }
}
