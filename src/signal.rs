//! Signal names and numbers as `kill` accepts them: `KILL`, `SIGKILL`, `9`
//! (and `0`, which only checks that the process exists),
//! and the real-time forms `RTMIN+3` and `SIGRTMAX-1`.

#[derive(Debug, thiserror::Error)]
#[error("invalid signal: {0:?}")]
pub struct BadSignal(pub String);

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// The kernel's real-time range (glibc reserves the first two for itself,
/// but a container's process is not glibc's business).
const RTMIN: i32 = 34;
const RTMAX: i32 = 64;

pub fn parse(text: &str) -> Result<i32, BadSignal> {
    let bad = || BadSignal(text.to_string());
    if let Ok(number) = text.parse::<i32>() {
        return (0..=RTMAX).contains(&number).then_some(number).ok_or_else(bad);
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, number)) = NAMES.iter().find(|(n, _)| *n == name) {
        return Ok(*number);
    }
    let realtime = |base: i32, rest: &str| -> Option<i32> {
        let offset = match rest {
            "" => 0,
            _ => rest.parse::<i32>().ok()?,
        };
        let number = base + offset;
        (RTMIN..=RTMAX).contains(&number).then_some(number)
    };
    let parsed = if let Some(rest) = name.strip_prefix("RTMIN") {
        realtime(RTMIN, rest.strip_prefix('+').unwrap_or(rest))
    } else if let Some(rest) = name.strip_prefix("RTMAX") {
        realtime(RTMAX, rest)
    } else {
        None
    };
    parsed.ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn names_numbers_and_prefixes() {
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("SIGKILL").unwrap(), 9);
        assert_eq!(parse("sigterm").unwrap(), 15);
        assert_eq!(parse("9").unwrap(), 9);
        assert_eq!(parse("0").unwrap(), 0, "0 probes for existence, as in runc");
        assert_eq!(parse("15").unwrap(), 15);
        assert_eq!(parse("WINCH").unwrap(), libc::SIGWINCH);
    }

    #[test]
    fn realtime_signals() {
        assert_eq!(parse("RTMIN").unwrap(), 34);
        assert_eq!(parse("SIGRTMIN+3").unwrap(), 37);
        assert_eq!(parse("RTMAX-1").unwrap(), 63);
        assert!(parse("RTMAX+1").is_err());
        assert!(parse("RTMIN-1").is_err());
    }

    #[test]
    fn rejects_nonsense() {
        for bad in ["", "65", "-9", "SIGFOO", "KILLME", "SIG"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
