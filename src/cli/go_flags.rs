//! Long flags written with one dash, as Go's flag package (and so runc's
//! command line) accepts them: containerd's go-runc passes restore's
//! `-no-subreaper` so. clap knows only `--no-subreaper`; such a flag is
//! given its second dash before the parse.
//!
//! As in Go, flags end at the first argument that is not one (or at
//! `--`): what follows, exec's command and its arguments above all, is
//! left as it is.

use std::ffi::OsString;

use clap::Command;

/// `args` with every one-dash long flag of `command` (the verb's, or a
/// global one) given two dashes; `args` itself when there is none, which is
/// decided without building clap's command (the common case, on every
/// call).
pub fn with_two_dashes(args: Vec<OsString>, command: impl FnOnce() -> Command) -> Vec<OsString> {
    if !args.iter().skip(1).any(|a| a.to_str().is_some_and(may_be_one_dash_long)) {
        return args;
    }
    let mut command = command();
    command.build();
    rewrite(args, &command)
}

/// `-ab…`: one dash and a name of two letters or more (before any `=`).
fn may_be_one_dash_long(arg: &str) -> bool {
    let Some(rest) = arg.strip_prefix('-') else { return false };
    !rest.starts_with('-') && rest.split('=').next().is_some_and(|name| name.len() > 1)
}

fn rewrite(args: Vec<OsString>, root: &Command) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut args = args.into_iter();
    out.extend(args.next());
    let mut command = root;
    let mut in_verb = false;
    while let Some(arg) = args.next() {
        let Some(text) = arg.to_str().map(str::to_owned) else {
            out.push(arg);
            break;
        };
        if text == "--" {
            out.push(arg);
            break;
        }
        if let Some(flag) = text.strip_prefix("--") {
            out.push(arg);
            if takes_value_apart(command, flag) {
                out.extend(args.next());
            }
            continue;
        }
        if may_be_one_dash_long(&text) && long_arg(command, &text[1..]).is_some() {
            let flag = text[1..].to_owned();
            out.push(format!("-{text}").into());
            if takes_value_apart(command, &flag) {
                out.extend(args.next());
            }
            continue;
        }
        if let Some(shorts) = text.strip_prefix('-').filter(|s| !s.is_empty()) {
            out.push(arg);
            // `-p FILE`: the last letter of a cluster may take the next
            // argument.
            let last = shorts.chars().last().expect("not empty");
            let takes = command.get_arguments().find(|a| a.get_short() == Some(last)).is_some_and(takes_values);
            if takes && shorts.len() == 1 {
                out.extend(args.next());
            }
            continue;
        }
        out.push(arg);
        if in_verb {
            break;
        }
        match root.find_subcommand(&text) {
            Some(verb) => {
                command = verb;
                in_verb = true;
            }
            None => break,
        }
    }
    out.extend(args);
    out
}

/// The argument of `command` named `--NAME` (`NAME=VALUE` allowed).
fn long_arg<'a>(command: &'a Command, flag: &str) -> Option<&'a clap::Arg> {
    let name = flag.split('=').next().unwrap_or(flag);
    command.get_arguments().find(|a| a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|v| v.contains(&name)))
}

/// Whether `--FLAG` takes the next argument as its value.
fn takes_value_apart(command: &Command, flag: &str) -> bool {
    !flag.contains('=') && long_arg(command, flag).is_some_and(takes_values)
}

fn takes_values(arg: &clap::Arg) -> bool {
    arg.get_action().takes_values()
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::cli::Cli;

    fn run(line: &str) -> String {
        let args = line.split(' ').map(OsString::from).collect();
        let out = with_two_dashes(args, Cli::command);
        out.iter().map(|a| a.to_str().unwrap()).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn go_runc_restore_line_parses() {
        let line = "husk --root /r --log /l.json --log-format json restore --image-path /i --work-path /w \
                    --detach --pid-file /p -no-subreaper --bundle /b c1";
        let fixed = run(line);
        assert!(fixed.contains(" --no-subreaper "), "{fixed}");
        Cli::try_parse_from(fixed.split(' ')).unwrap();
    }

    #[test]
    fn one_dash_globals_and_values_are_rewritten() {
        assert_eq!(run("husk -root /r -log-format=json state c"), "husk --root /r --log-format=json state c");
        assert_eq!(run("husk delete -force c"), "husk delete --force c");
    }

    #[test]
    fn what_follows_the_first_argument_stays() {
        // exec's command and its arguments; a value that looks like a flag.
        assert_eq!(run("husk exec -t c ls -la -root"), "husk exec -t c ls -la -root");
        assert_eq!(run("husk exec -p -process c -tty"), "husk exec -p -process c -tty");
        assert_eq!(run("husk exec --cwd -root c -tty"), "husk exec --cwd -root c -tty");
        assert_eq!(run("husk kill c -9"), "husk kill c -9");
    }

    #[test]
    fn unknown_one_dash_words_are_left_to_clap() {
        assert_eq!(run("husk state -bogus c"), "husk state -bogus c");
        assert_eq!(run("husk -bogus state c"), "husk -bogus state c");
    }
}
