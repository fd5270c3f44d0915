//! SIGTERM and SIGINT for `--once`: installed before anything else, because while `migrated`
//! is PID 1 in a container the kernel drops both signals unless a handler is installed, so
//! `docker stop` would otherwise wait for its timeout and then SIGKILL.
//!
//! Waiting (for the database, for the migration lock) is interruptible: a signal ends the run
//! at once. Applying is not: a signal that arrives meanwhile is remembered and checked after
//! the migration in flight, so a run never stops halfway through a `-- no-transaction` file
//! because of it; the command is then not started. tokio's handlers stay installed for the
//! life of the process and are reset by `exec`, so the application gets the default actions.

use std::future::Future;

use anyhow::Context as _;
use futures_util::FutureExt as _;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The installed handlers.
pub(crate) struct Signals {
    term: Signal,
    int: Signal,
}

/// A run that a signal ended before the command was started.
#[derive(Debug, thiserror::Error)]
#[error("received {signal} while {phase}: stopped, the command was not started")]
pub(crate) struct Interrupted {
    pub(crate) signal: &'static str,
    pub(crate) phase: String,
}

impl Signals {
    pub(crate) fn install() -> anyhow::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    /// The name of the next signal received (or already received and not yet taken).
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }

    /// Runs `work` unless a signal arrives first; then `work` is dropped (a connection in
    /// use closes, so the server rolls back whatever it had begun) and the run fails.
    pub(crate) async fn interruptible<T>(
        &mut self,
        phase: &str,
        work: impl Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        tokio::select! {
            biased;
            signal = self.next() => Err(Interrupted { signal, phase: phase.to_owned() }.into()),
            result = work => result,
        }
    }

    /// Fails if a signal arrived while nothing was listening (during the apply phase).
    pub(crate) fn check(&mut self, phase: &str) -> Result<(), Interrupted> {
        match self.next().now_or_never() {
            Some(signal) => Err(Interrupted {
                signal,
                phase: phase.to_owned(),
            }),
            None => Ok(()),
        }
    }
}
