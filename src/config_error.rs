//! The one shape in which every module reports a value of a configuration
//! file that cannot be used: `<file>: <field path>: <problem>`, as in
//! `config.json: linux.namespaces[2].type: unknown namespace "netw"`.
//!
//! Values quoted in the problem are cut to about 100 characters: a config
//! can hold strings of any length, and an error line must stay one line a
//! person can read.

use std::fmt;
use std::path::PathBuf;

/// How much of a quoted value an error shows.
const QUOTE_MAX: usize = 100;
/// How much of a field path an error shows (a sysctl key or a map key can
/// be arbitrarily long).
const FIELD_MAX: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file, as the user named it (`config.json`, a process.json path,
    /// `--resources` file).
    pub file: PathBuf,
    /// The field path, `linux.resources.memory.swap`.
    pub field: String,
    pub problem: String,
}

impl ConfigError {
    pub fn new(file: impl Into<PathBuf>, field: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError { file: file.into(), field: cut(&field.into(), FIELD_MAX), problem: cut_quoted(&problem.into()) }
    }

    /// An error in the bundle's config.json, named as users know it.
    pub fn config(field: impl Into<String>, problem: impl Into<String>) -> Self {
        ConfigError::new("config.json", field, problem)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file.display(), self.field, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Cuts `text` to `max` characters, saying how long it was.
fn cut(text: &str, max: usize) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}… ({count} characters)")
}

/// Cuts every double-quoted value (as `{:?}` writes strings, with inner
/// quotes escaped) longer than `QUOTE_MAX` characters.
fn cut_quoted(problem: &str) -> String {
    let mut out = String::with_capacity(problem.len().min(512));
    let mut chars = problem.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '"' {
            continue;
        }
        let mut value = String::new();
        let mut closed = false;
        while let Some(c) = chars.next() {
            if c == '\\' {
                value.push(c);
                if let Some(escaped) = chars.next() {
                    value.push(escaped);
                }
            } else if c == '"' {
                closed = true;
                break;
            } else {
                value.push(c);
            }
        }
        let count = value.chars().count();
        if count > QUOTE_MAX {
            out.extend(value.chars().take(QUOTE_MAX));
            out.push_str(&format!("…\" ({count} characters)"));
        } else {
            out.push_str(&value);
            if closed {
                out.push('"');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shape_every_module_uses() {
        let error = ConfigError::config("linux.namespaces[2].type", "unknown namespace \"netw\"");
        assert_eq!(error.to_string(), "config.json: linux.namespaces[2].type: unknown namespace \"netw\"");
    }

    #[test]
    fn long_quoted_values_are_cut() {
        let long = "x".repeat(5000);
        let error = ConfigError::config("hostname", format!("{long:?} is too long, and so on"));
        let text = error.to_string();
        assert!(text.len() < 200, "{text}");
        assert!(text.starts_with(&format!("config.json: hostname: \"{}…\" (5000 characters)", "x".repeat(100))), "{text}");
        assert!(text.ends_with(" is too long, and so on"), "{text}");
    }

    #[test]
    fn short_values_and_escapes_are_kept() {
        let problem = format!("{:?} and {:?}", "a\"b", "plain");
        assert_eq!(ConfigError::config("f", problem.clone()).problem, problem);
        let unclosed = "an \"unclosed quote";
        assert_eq!(ConfigError::config("f", unclosed).problem, unclosed);
    }

    #[test]
    fn long_field_paths_are_cut() {
        let field = format!("linux.sysctl.{}", "k".repeat(1000));
        let error = ConfigError::config(field, "is not namespaced");
        assert!(error.to_string().len() < 300, "{error}");
        assert!(error.field.ends_with("… (1013 characters)"));
    }
}
