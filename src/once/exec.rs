//! Replacing this process with the application: `execvp` keeps the PID, so in a container the
//! application is PID 1 and receives `docker stop`'s SIGTERM itself.
//!
//! `exec` runs no destructors: the caller must already have closed its database connection and
//! dropped the log guard (a non-blocking log writer loses its tail otherwise). The process's
//! sockets and files are close-on-exec, so the application inherits only stdin, stdout and
//! stderr; Rust resets SIGPIPE to its default before exec.

use std::os::unix::process::CommandExt as _;
use std::process::Command;

use crate::error::UsageError;

/// Replaces the process with `command` (looked up in `PATH`). Returns only on failure.
pub(crate) fn exec(command: &[String]) -> anyhow::Error {
    let Some((program, args)) = command.split_first() else {
        return UsageError("BUG: exec called without a command".to_owned()).into();
    };
    let err = Command::new(program).args(args).exec();
    anyhow::anyhow!(
        "starting the command {}: {err} (migrations are applied)",
        shell_words(command)
    )
}

/// The command as one would type it, for messages.
fn shell_words(command: &[String]) -> String {
    command
        .iter()
        .map(|w| {
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_plain_and_spaced_quotes_only_what_needs_it() {
        let cmd: Vec<String> = ["sh", "-c", "echo $$ > pid", "it's"]
            .map(String::from)
            .to_vec();
        assert_eq!(shell_words(&cmd), r"sh -c 'echo $$ > pid' 'it'\''s'");
    }

    #[test]
    fn exec_missing_program_fails_with_its_name() {
        let err = exec(&["/nonexistent/migrated-test-app".to_owned()]);
        let msg = format!("{err:#}");
        assert!(msg.contains("/nonexistent/migrated-test-app"), "{msg}");
        assert!(msg.contains("No such file"), "{msg}");
    }
}
