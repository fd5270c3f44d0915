//! The production entrypoint `migrated --once [-- CMD ARGS...]`: wait for the database, take
//! the migration lock, validate, back up if configured, apply what is pending, unlock, then
//! `exec` CMD with the same PID. Any failure ends the run with one line of cause and CMD is
//! never started.
//!
//! This module only sequences; every step is someone else's: `migrations` reads and checks the
//! files and `migrated.sum`, `core::migration::plan_up` validates the recorded checksums and
//! decides what is pending, `db::connect` waits for the server, `db::lock` is the advisory
//! lock, `db::apply::run` is the one apply loop, `backup` takes the snapshot.
//!
//! Fast path (every container start of an up-to-date service): one connection and one query
//! (read `_sqlx_migrations`, compare with the files). The lock is taken only when something is
//! pending, and the state is read again under it, since another replica may have applied it
//! meanwhile.
//!
//! With `mode = "development"` the watcher's pass runs first (`watch::daemon::Daemon::
//! once_pass`: committed migrations, then the models into the draft and the dev database),
//! failures included; production (and an unset mode) never generates.

mod exec;
mod signals;

use std::time::Duration;

use anyhow::Context as _;
use sqlx::{Connection as _, PgConnection};
use tracing_appender::non_blocking::WorkerGuard;

use crate::cmd::Context;
use crate::config::{Config, DatabaseUrl, Mode};
use crate::core::migration::{MigrationSet, Plan, UpTarget, plan_up};
use crate::db::apply::{self, ApplyOptions};
use crate::db::{connect, history, lock};
use crate::migrations;
use crate::watch::daemon::Daemon;
use signals::Signals;

/// Runs the entrypoint. With a command it returns only on failure (success replaces the
/// process); without one it returns `Ok` once the database is up to date.
pub async fn once(
    ctx: &Context,
    wait_timeout: Option<u64>,
    exec: &[String],
    guard: Option<WorkerGuard>,
) -> anyhow::Result<()> {
    // First of all: as PID 1, SIGTERM/SIGINT are ignored until a handler exists.
    let mut signals = Signals::install()?;
    let config = &ctx.config;
    let url = config.require_database_url()?;
    let wait = wait_timeout.map_or(config.wait_timeout, Duration::from_secs);
    let mut conn = None;
    if config.mode == Some(Mode::Development) {
        conn = Some(wait_for_database(&mut signals, url, wait).await?);
        generate_from_models(ctx).await?;
    }
    // Checked before waiting in production: a broken tree fails at once.
    let set = load_validated(config)?;
    let mut conn = match conn {
        Some(conn) => conn,
        None => wait_for_database(&mut signals, url, wait).await?,
    };
    migrate(config, url, &set, &mut conn, &mut signals).await?;
    // A clean goodbye (Terminate, TLS close_notify) so the server logs no broken connection.
    let _ = conn.close().await;
    signals.check("applying migrations")?;
    if exec.is_empty() {
        return Ok(());
    }
    tracing::info!(event = "once.exec", command = %exec.join(" "), "starting the command");
    // exec runs no destructors: flush the log writer now.
    drop(guard);
    Err(exec::exec(exec))
}

async fn wait_for_database(
    signals: &mut Signals,
    url: &DatabaseUrl,
    wait: Duration,
) -> anyhow::Result<PgConnection> {
    signals
        .interruptible(
            "waiting for the database",
            connect::connect_with_retry(url, wait),
        )
        .await
}

/// `mode = "development"`: one pass of the watcher (committed migrations, then the models into
/// the draft and the dev database) before the production steps. Not interruptible, like
/// applying: a signal is honoured after it.
async fn generate_from_models(ctx: &Context) -> anyhow::Result<()> {
    let mut daemon = Daemon::new(ctx)?;
    let result = daemon.once_pass().await;
    let finished = daemon.finish().await;
    result
        .and(finished)
        .context("development mode: generating from the models")
}

/// The migration files, checked (names, pairs, `migrated.sum`) before anything connects.
fn load_validated(config: &Config) -> anyhow::Result<MigrationSet> {
    let dir = &config.migrations_dir;
    let (set, problems) = migrations::load_with_sum(dir)?;
    if let Some(first) = problems.first() {
        let more = match problems.len() {
            1 => String::new(),
            n => format!(" (and {} more problems)", n - 1),
        };
        anyhow::bail!("{first}{more}");
    }
    Ok(set)
}

/// Brings the database to head: the fast path without a lock, else lock, re-plan, back up,
/// apply, unlock (on every path).
async fn migrate(
    config: &Config,
    url: &DatabaseUrl,
    set: &MigrationSet,
    conn: &mut PgConnection,
    signals: &mut Signals,
) -> anyhow::Result<()> {
    let applied = history::read(conn).await?.unwrap_or_default();
    if plan_up(set, &applied, UpTarget::Head)?.is_empty() {
        tracing::info!(event = "once.up_to_date", "nothing to apply");
        return Ok(());
    }
    let held = signals
        .interruptible(
            "waiting for the migration lock",
            lock::acquire(conn, config.advisory_lock_timeout),
        )
        .await?;
    let result = apply_locked(config, url, set, conn).await;
    let released = held.release(conn).await;
    result.and(released)
}

/// Under the lock: create the tables, read the state again, back up, apply.
async fn apply_locked(
    config: &Config,
    url: &DatabaseUrl,
    set: &MigrationSet,
    conn: &mut PgConnection,
) -> anyhow::Result<()> {
    apply::ensure_tables(conn).await?;
    let applied = history::read(conn).await?.unwrap_or_default();
    let plan = plan_up(set, &applied, UpTarget::Head)?;
    if plan.is_empty() {
        tracing::info!(
            event = "once.up_to_date",
            "nothing to apply: another process applied it meanwhile"
        );
        return Ok(());
    }
    let mut options = ApplyOptions::from_config(config);
    options.backup_file = backup(config, url, &plan).await?;
    let report = apply::run(conn, set, &plan, &options).await?;
    tracing::info!(
        event = "once.applied",
        count = report.steps.len(),
        "database is up to date"
    );
    Ok(())
}

/// The snapshot before the first pending migration, when `backup.before_apply` is set.
async fn backup(config: &Config, url: &DatabaseUrl, plan: &Plan) -> anyhow::Result<Option<String>> {
    if !config.backup.before_apply {
        return Ok(None);
    }
    let first = plan
        .versions
        .first()
        .map(i64::to_string)
        .unwrap_or_default();
    let path = crate::backup::backup_before_apply(config, url, &first).await?;
    Ok(Some(path.display().to_string()))
}
