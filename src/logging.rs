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
