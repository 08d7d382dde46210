//! What runs after each renewal, as in `step ca renew`: a signal to a process (`--signal`
//! to `--pid`, or to the process id in `--pid-file`), then a command (`--exec`). Both run
//! with the new certificate already on disk.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Failure, Result, input};

/// The after-renewal flags of `stepca renew`, step's names and meanings.
#[derive(clap::Args, Clone, Default)]
#[command(group(clap::ArgGroup::new("pid_target").args(["pid", "pid_file"])))]
pub(crate) struct HookArgs {
    /// A command to run after each renewal, with the new certificate already written: split
    /// at white space and run without a shell, as step does (use a script for pipes or
    /// redirections). An empty one runs nothing.
    #[arg(long, value_name = "COMMAND")]
    pub exec: Option<String>,
    /// Send --signal to this process after each renewal (before --exec).
    #[arg(long, value_name = "PID", value_parser = clap::value_parser!(i32).range(1..))]
    pub pid: Option<i32>,
    /// Send --signal to the process whose id this file holds after each renewal (before
    /// --exec). It is read at start, which fails if it cannot be, and again at each renewal,
    /// so that a restarted process is reached.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// The signal for --pid or --pid-file: a number or a name (HUP, SIGHUP, USR1, ...).
    /// [default: HUP]
    #[arg(long, value_name = "SIGNAL", requires = "pid_target", value_parser = parse_signal)]
    pub signal: Option<i32>,
}

/// Signals by name, the common ones.
const SIGNALS: [(&str, i32); 12] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("USR2", libc::SIGUSR2),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("WINCH", libc::SIGWINCH),
];

/// A signal number (step takes numbers: 1 is SIGHUP) or name, with or without `SIG`.
fn parse_signal(s: &str) -> std::result::Result<i32, String> {
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{n} is not a signal number"))
        };
    }
    let up = s.to_ascii_uppercase();
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    SIGNALS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("{s:?} is not a signal (a number, or HUP, USR1, TERM, ...)"))
}

/// A signal's name for messages: `SIGHUP`, or `signal 34`.
pub(crate) fn signal_name(n: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, v)| *v == n)
        .map_or_else(|| format!("signal {n}"), |(name, _)| format!("SIG{name}"))
}

/// The process id in `path`, which must be a positive number.
fn read_pid_file(path: &Path) -> Result<i32> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| input(format!("--pid-file {}: {e}", path.display())))?;
    match text.trim().parse::<i32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ => Err(input(format!(
            "--pid-file {}: {:?} is not a process id",
            path.display(),
            text.trim()
        ))),
    }
}

/// The hooks of one `stepca renew`, checked.
#[derive(Clone)]
pub(crate) struct Hooks {
    args: HookArgs,
}

impl Hooks {
    /// Checks the flags as step does at start: a --pid-file that cannot be read, or holds
    /// no process id, is refused (exit 3).
    pub(crate) fn new(args: &HookArgs) -> Result<Hooks> {
        if let Some(f) = &args.pid_file {
            read_pid_file(f)?;
        }
        Ok(Hooks { args: args.clone() })
    }

    /// Runs the hooks: the signal, then the command. The first failure is returned (the
    /// command is not run when the signal could not be sent, as in step).
    pub(crate) fn run(&self) -> Result<()> {
        let pid = match (&self.args.pid, &self.args.pid_file) {
            (Some(pid), _) => Some(*pid),
            (None, Some(f)) => Some(read_pid_file(f)?),
            (None, None) => None,
        };
        if let Some(pid) = pid {
            let sig = self.args.signal.unwrap_or(libc::SIGHUP);
            // SAFETY: kill(2) takes plain integers and touches no memory of ours.
            if unsafe { libc::kill(pid, sig) } != 0 {
                return Err(failure(format!(
                    "--signal: cannot send {} to process {pid}: {}",
                    signal_name(sig),
                    std::io::Error::last_os_error()
                )));
            }
        }
        let cmd = self.args.exec.as_deref().unwrap_or_default();
        let mut parts = cmd.split_whitespace();
        let Some(program) = parts.next() else {
            return Ok(());
        };
        // std resets the signal mask and dispositions in the child: the daemon's blocked
        // signals are not the command's.
        match Command::new(program).args(parts).status() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(failure(format!("--exec {cmd:?}: {s}"))),
            Err(e) => Err(failure(format!("--exec {cmd:?}: {e}"))),
        }
    }
}

fn failure(message: String) -> Failure {
    Failure { code: 1, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_number_or_name() {
        assert_eq!(parse_signal("1"), Ok(libc::SIGHUP));
        assert_eq!(parse_signal("HUP"), Ok(libc::SIGHUP));
        assert_eq!(parse_signal("sighup"), Ok(libc::SIGHUP));
        assert_eq!(parse_signal("SIGUSR1"), Ok(libc::SIGUSR1));
        assert_eq!(parse_signal("usr2"), Ok(libc::SIGUSR2));
        assert!(parse_signal("0").is_err());
        assert!(parse_signal("-1").is_err());
        assert!(parse_signal("BOGUS").is_err());
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(40), "signal 40");
    }
}
