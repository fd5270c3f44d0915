//! The development daemon: file events and signals arrive as messages on one channel, are
//! coalesced into a batch, and the batch drives the passes (sync models, apply new committed
//! migrations, reload config, stop). The passes themselves live behind the `Passes` trait so
//! the loop is independent of the pipeline and testable on its own.
//!
//! Events (DESIGN.md "Watch daemon") are tracing events with an `event` field:
//! `watcher.started`, `models.changed`, `models.invalid`, `migration.generated`,
//! `migration.blocked`, `backup.created`, `migration.applied`, `migration.failed`,
//! `draft.committed`, `watcher.stopped`, plus `database.unavailable` / `database.reconnected`.

pub mod daemon;
pub mod files;
mod memory;
pub mod signals;

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use tracing::{info, warn};

use files::{Classifier, Side};

/// What arrives on the daemon's channel.
#[derive(Debug)]
pub enum Msg {
    Files(Vec<PathBuf>),
    WatchError(String),
    Reload,
    Stop(&'static str),
}

/// The work a batch of messages asks for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Batch {
    pub models: bool,
    pub migrations: bool,
    pub reload: bool,
    pub stop: Option<&'static str>,
    pub changed: Vec<PathBuf>,
}

impl Batch {
    fn has_work(&self) -> bool {
        self.models || self.migrations || self.reload
    }

    fn merge(&mut self, other: Self) {
        self.models |= other.models;
        self.migrations |= other.migrations;
        self.reload |= other.reload;
        self.stop = self.stop.or(other.stop);
        self.changed.extend(other.changed);
    }
}

/// Folds queued messages into one batch (pure).
pub fn coalesce(msgs: Vec<Msg>, classifier: &Classifier) -> Batch {
    let mut batch = Batch::default();
    for msg in msgs {
        match msg {
            Msg::Files(paths) => {
                for path in paths {
                    match classifier.side(&path) {
                        Some(Side::Models) => batch.models = true,
                        Some(Side::Migrations) => batch.migrations = true,
                        None => continue,
                    }
                    if !batch.changed.contains(&path) {
                        batch.changed.push(path);
                    }
                }
            }
            Msg::WatchError(e) => warn!(error = %e, "file watcher error"),
            Msg::Reload => batch.reload = true,
            Msg::Stop(signal) => batch.stop = batch.stop.or(Some(signal)),
        }
    }
    batch
}

/// How a pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done (or failed in a way a retry cannot fix: it was logged; wait for the next change).
    Done,
    /// The database went away: retry the batch after a backoff.
    Retry,
}

/// The daemon's passes. Each logs its own events and never panics on bad input.
pub trait Passes {
    /// Bring the database to the models once at start.
    fn initial(&mut self) -> impl Future<Output = Outcome>;
    /// Re-read the models and rewrite/apply the draft.
    fn models_changed(&mut self, changed: &[PathBuf]) -> impl Future<Output = Outcome>;
    /// Apply committed migrations that arrived (e.g. from `git pull`).
    fn migrations_changed(&mut self) -> impl Future<Output = Outcome>;
    /// Re-read the config file (SIGHUP).
    fn reload(&mut self) -> impl Future<Output = ()>;
}

/// Backoff between retries while the database is unavailable.
const RETRY_MIN: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// Runs the loop until a stop message (or the channel closes).
pub async fn run<P: Passes>(
    passes: &mut P,
    rx: &mut UnboundedReceiver<Msg>,
    classifier: &Classifier,
) {
    let mut pending = Batch::default();
    let mut backoff = RETRY_MIN;
    if passes.initial().await == Outcome::Retry {
        pending.models = true;
        pending.migrations = true;
    }
    loop {
        // The last pass is over (its change is in the dev database): idle until the next save.
        memory::release_free_memory();
        let next = if pending.has_work() {
            match tokio::time::timeout(backoff, rx.recv()).await {
                Ok(msg) => msg,
                Err(_) => Some(Msg::Files(Vec::new())),
            }
        } else {
            rx.recv().await
        };
        let Some(first) = next else { break };
        let mut msgs = vec![first];
        while let Ok(more) = rx.try_recv() {
            msgs.push(more);
        }
        let mut batch = std::mem::take(&mut pending);
        batch.merge(coalesce(msgs, classifier));
        if let Some(signal) = batch.stop {
            info!(event = "watcher.stopped", signal, "stopping");
            break;
        }
        if batch.reload {
            passes.reload().await;
            batch.reload = false;
        }
        tracing::debug!(changed = ?batch.changed, models = batch.models, migrations = batch.migrations, "batch");
        let mut retry = false;
        if batch.migrations {
            retry |= passes.migrations_changed().await == Outcome::Retry;
        }
        if batch.models {
            info!(
                event = "models.changed",
                files = batch.changed.len(),
                "models changed"
            );
            retry |= passes.models_changed(&batch.changed).await == Outcome::Retry;
        }
        if retry {
            backoff = (backoff * 2).min(RETRY_MAX);
            pending = Batch {
                reload: false,
                stop: None,
                ..batch
            };
        } else {
            backoff = RETRY_MIN;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::files::WatchSpec;
    use super::*;

    fn classifier() -> Classifier {
        Classifier::new(&WatchSpec {
            models_dir: "/p/models".into(),
            migrations_dir: "/p/migrations".into(),
            globs: vec![],
            base: "/p".into(),
            debounce: Duration::from_millis(10),
            poll: None,
        })
        .unwrap()
    }

    #[test]
    fn coalesce_folds_files_and_signals_into_one_batch() {
        let batch = coalesce(
            vec![
                Msg::Files(vec!["/p/models/a.sql".into(), "/p/models/a.sql".into()]),
                Msg::Files(vec![
                    "/p/migrations/1_x.up.sql".into(),
                    "/p/other.txt".into(),
                ]),
                Msg::Reload,
            ],
            &classifier(),
        );
        assert!(batch.models && batch.migrations && batch.reload);
        assert_eq!(
            batch.changed,
            [
                Path::new("/p/models/a.sql"),
                Path::new("/p/migrations/1_x.up.sql")
            ]
        );
        assert_eq!(batch.stop, None);
    }

    #[test]
    fn coalesce_keeps_the_first_stop_signal() {
        let batch = coalesce(
            vec![Msg::Stop("SIGTERM"), Msg::Stop("SIGINT")],
            &classifier(),
        );
        assert_eq!(batch.stop, Some("SIGTERM"));
    }

    struct Recorder {
        calls: Vec<&'static str>,
        fail_models: u32,
        stop: tokio::sync::mpsc::UnboundedSender<Msg>,
    }

    impl Passes for Recorder {
        async fn initial(&mut self) -> Outcome {
            self.calls.push("initial");
            Outcome::Done
        }
        async fn models_changed(&mut self, _: &[PathBuf]) -> Outcome {
            self.calls.push("models");
            if self.fail_models > 0 {
                self.fail_models -= 1;
                return Outcome::Retry;
            }
            self.stop.send(Msg::Stop("SIGTERM")).unwrap();
            Outcome::Done
        }
        async fn migrations_changed(&mut self) -> Outcome {
            self.calls.push("migrations");
            Outcome::Done
        }
        async fn reload(&mut self) {
            self.calls.push("reload");
        }
    }

    #[tokio::test]
    async fn run_retries_a_batch_while_the_database_is_away_then_stops() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut rec = Recorder {
            calls: vec![],
            fail_models: 2,
            stop: tx.clone(),
        };
        tx.send(Msg::Files(vec!["/p/models/a.sql".into()])).unwrap();
        run(&mut rec, &mut rx, &classifier()).await;
        assert_eq!(rec.calls, ["initial", "models", "models", "models"]);
    }
}
