//! `migrated watch` (and `migrated` with no command): the development daemon.

use super::Context;
use crate::config::Mode;
use crate::error::UsageError;
use crate::watch::daemon::Daemon;
use crate::watch::files::{self, Classifier, WatchSpec};
use crate::watch::{run, signals};

pub async fn watch(ctx: &Context) -> anyhow::Result<()> {
    let config = &ctx.config;
    if config.mode == Some(Mode::Production) {
        return Err(UsageError(
            "`migrated watch` does not run with mode = \"production\": production only applies committed migrations (`migrated --once`)".into(),
        )
        .into());
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    signals::start(tx.clone())?;
    let spec = WatchSpec {
        models_dir: config.models_dir.clone(),
        migrations_dir: config.migrations_dir.clone(),
        globs: config.models_watch.clone(),
        base: ctx.cwd.clone(),
        debounce: config.watch.debounce,
        poll: config.watch.poll.then_some(config.watch.poll_interval),
    };
    let classifier = Classifier::new(&spec)?;
    let mut daemon = Daemon::new(ctx)?;
    let _watcher = files::start(&spec, tx)?;
    run(&mut daemon, &mut rx, &classifier).await;
    daemon.finish().await
}
