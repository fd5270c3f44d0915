//! The watcher's passes: the generate pipeline plus the dev database.
//!
//! On a model change: plan (models -> desired shadow, committed migrations -> head shadow,
//! diff), verify, rewrite the one draft migration as a clean diff from the head state, then
//! bring the dev database to the models by applying only the delta between what it holds now
//! and the models (introspected, so nothing is re-applied and no data is lost beyond what the
//! change itself drops), with the draft's state row in the same transaction so its checksum
//! follows the file. Steps that lose data are written into the draft but not applied unless
//! `watch.allow_destructive`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use sqlx::{Connection as _, PgConnection};
use tracing::{error, info, warn};

use super::{Outcome, Passes};
use crate::cmd::{Context, load_config};
use crate::config::Config;
use crate::core::diff::{Plan, Step, diff};
use crate::core::hazard::HazardKind;
use crate::core::migration::{UpTarget, checksum};
use crate::core::render::quote_ident;
use crate::core::schema::Schema;
use crate::db::apply::{self, ApplyOptions};
use crate::db::snapshot::{self, Snapshot};
use crate::db::{events, history, lock};
use crate::pipeline::{self, Planned, draft_files};
use crate::shadow::Shadows;

/// The daemon's state between passes.
pub struct Daemon<'a> {
    ctx: &'a Context,
    config: Config,
    shadows: Shadows,
    dev: Option<PgConnection>,
    /// The dev database's schema as last read: the base of the next incremental read.
    dev_schema: Option<Snapshot>,
    /// `--once` in development mode: failures are returned, not logged and survived.
    strict: bool,
}

impl<'a> Daemon<'a> {
    pub fn new(ctx: &'a Context) -> anyhow::Result<Self> {
        let config = ctx.config.clone();
        config.require_database_url()?;
        let shadows = long_lived_shadows(&config)?;
        Ok(Self {
            ctx,
            config,
            shadows,
            dev: None,
            dev_schema: None,
            strict: false,
        })
    }

    /// `--once` in development mode: one pass of the watcher (committed migrations, then the
    /// models into the draft and the dev database, as `watch.auto_apply`/`auto_generate`
    /// allow), with every failure returned: the caller must not start the application.
    pub async fn once_pass(&mut self) -> anyhow::Result<()> {
        self.strict = true;
        if self.config.watch.auto_apply {
            self.apply_committed().await?;
        }
        if self.config.watch.auto_generate {
            self.sync_models().await?;
        }
        Ok(())
    }

    /// Settles the shadows if they are kept, else drops them (`Shadows::finish`).
    pub async fn finish(&self) -> anyhow::Result<()> {
        self.shadows.finish().await
    }

    async fn dev(&mut self) -> anyhow::Result<&mut PgConnection> {
        dev_connection(&mut self.dev, &self.config).await
    }

    /// Whether the server answers at all: a failed pass is retried only when it does not.
    async fn server_away(&mut self) -> bool {
        self.dev = None;
        match self.dev().await {
            Ok(_) => false,
            Err(e) => {
                warn!(event = "database.unavailable", error = %format!("{e:#}"), "database unavailable; retrying");
                true
            }
        }
    }

    async fn sync_models(&mut self) -> anyhow::Result<Option<Outcome>> {
        let started = Instant::now();
        let draft_before = draft_files(&self.config.migrations_dir)?;
        // The dev database is read while the models are loaded and the shadows brought
        // forward (mostly one core each), so that verification has both cores.
        let auto_apply = self.config.watch.auto_apply;
        let (planned, dev_read) = tokio::join!(
            Box::pin(pipeline::plan(&self.config, &self.ctx.cwd, &self.shadows)),
            async {
                if !auto_apply {
                    return Ok(false);
                }
                Box::pin(read_dev_schema(
                    &mut self.dev,
                    &mut self.dev_schema,
                    &self.config,
                ))
                .await
                .map(|()| true)
            }
        );
        let planned = match planned {
            Ok(planned) => planned,
            Err(e) if self.strict => return Err(e),
            Err(e) => {
                if self.server_away().await {
                    return Ok(Some(Outcome::Retry));
                }
                error!(event = "models.invalid", error = %format!("{e:#}"), "the models do not load; the database is untouched");
                return Ok(Some(Outcome::Done));
            }
        };
        pipeline::refuse_unsupported(&planned.plan)?;
        if !planned.plan.is_empty() {
            // Boxed: the verification future is large (two incremental reads).
            Box::pin(pipeline::verify(&self.shadows, &planned)).await?;
        }
        let dev_read = dev_read?;
        let now = crate::cmd::generate::now_version();
        let written = pipeline::write_draft(&self.config.migrations_dir, now, &planned.plan)?;
        pipeline::write_sum(&self.config.migrations_dir)?;
        let draft = Draft::from_paths(written.as_ref(), draft_before.as_ref())?;
        if let Some((up, _)) = &written {
            info!(
                event = "migration.generated",
                version = draft.version,
                file = %up.display(),
                hazards = %hazard_list(&planned.plan),
                duration_ms = started.elapsed().as_millis(),
                "draft migration written"
            );
        }
        if dev_read {
            // Lent to the pass and put back: the next pass reads incrementally from it.
            let snapshot = self
                .dev_schema
                .take()
                .expect("BUG: read_dev_schema stores it");
            let applied = self.apply_delta(&planned, &draft, &snapshot.schema).await;
            self.dev_schema = Some(snapshot);
            applied?;
        }
        Ok(None)
    }

    /// Brings the dev database to the desired schema and records the draft.
    async fn apply_delta(
        &mut self,
        planned: &Planned,
        draft: &Draft,
        current: &Schema,
    ) -> anyhow::Result<()> {
        let started = Instant::now();
        let allow_destructive = self.config.watch.allow_destructive;
        let conn = self.dev().await?;
        let delta = diff(current, &planned.desired.schema, &planned.models.hints)?;
        let (apply, blocked): (Vec<Step>, Vec<Step>) = delta
            .steps
            .into_iter()
            .partition(|s| allow_destructive || !loses_data(s));
        if !blocked.is_empty() {
            let losses = describe_losses(conn, current, &blocked).await;
            warn!(
                event = "migration.blocked",
                version = draft.version,
                would_drop = %losses.join("; "),
                "destructive change written into the draft but not applied (set watch.allow_destructive = true to apply it)"
            );
        }
        let row_current = draft_row_matches(conn, draft).await?;
        if apply.is_empty() && row_current {
            return Ok(());
        }
        let backup = self.backup_first(draft, apply.is_empty()).await?;
        let opts = ApplyOptions::from_config(&self.config);
        let conn = self.dev().await?;
        let result = lock::with_lock(
            conn,
            opts.advisory_lock_timeout,
            async |conn: &mut PgConnection| {
                apply::ensure_tables(conn).await?;
                run_delta(conn, &apply, draft).await
            },
        )
        .await;
        let summaries: Vec<&str> = apply.iter().map(|s| s.summary.as_str()).collect();
        record(
            conn,
            draft,
            started,
            backup.as_deref(),
            result.as_ref().err(),
        )
        .await;
        match result {
            Ok(()) => info!(
                event = "migration.applied",
                version = draft.version,
                steps = %summaries.join("; "),
                duration_ms = started.elapsed().as_millis(),
                "dev database brought to the models"
            ),
            Err(e) if self.strict => return Err(e),
            Err(e) => error!(
                event = "migration.failed",
                version = draft.version,
                error = %format!("{e:#}"),
                "applying the change failed; the database is unchanged"
            ),
        }
        Ok(())
    }

    async fn backup_first(
        &mut self,
        draft: &Draft,
        nothing_to_apply: bool,
    ) -> anyhow::Result<Option<String>> {
        if !self.config.backup.before_apply || nothing_to_apply {
            return Ok(None);
        }
        let url = self.config.require_database_url()?.clone();
        let version = draft
            .version
            .map_or_else(|| "draft".to_owned(), |v| v.to_string());
        let path = crate::backup::backup_before_apply(&self.config, &url, &version).await?;
        info!(event = "backup.created", file = %path.display(), "backup taken before applying");
        Ok(Some(path.display().to_string()))
    }

    async fn apply_committed(&mut self) -> anyhow::Result<()> {
        let dir = self.config.migrations_dir.clone();
        let opts = ApplyOptions::from_config(&self.config);
        let conn = self.dev().await?;
        // The files are read under the migration lock, which `commit` holds while it renames
        // the draft and realigns its state row (the lock is re-entrant for `up`).
        let report = lock::with_lock(
            conn,
            opts.advisory_lock_timeout,
            async |conn: &mut PgConnection| {
                let set = committed_and_recorded_draft(&dir, conn).await?;
                apply::up(conn, &set, UpTarget::Head, &opts).await
            },
        )
        .await?;
        for step in &report.steps {
            info!(
                event = "migration.applied",
                version = step.version,
                file = %step.description,
                duration_ms = step.duration.as_millis(),
                "committed migration applied"
            );
        }
        Ok(())
    }
}

impl Passes for Daemon<'_> {
    async fn initial(&mut self) -> Outcome {
        info!(
            event = "watcher.started",
            models = %self.config.models_dir.display(),
            migrations = %self.config.migrations_dir.display(),
            database = %self.config.require_database_url().map(ToString::to_string).unwrap_or_default(),
            "watching"
        );
        match self.migrations_changed().await {
            Outcome::Done => self.models_changed(&[]).await,
            Outcome::Retry => Outcome::Retry,
        }
    }

    async fn models_changed(&mut self, _changed: &[PathBuf]) -> Outcome {
        if !self.config.watch.auto_generate {
            info!("models changed; watch.auto_generate is off: run `migrated generate`");
            return Outcome::Done;
        }
        let outcome = match self.sync_models().await {
            Ok(outcome) => outcome.unwrap_or(Outcome::Done),
            Err(e) => self.failed(&e).await,
        };
        // After the dev database has the change: the caches are for the next process, and
        // the dead rows the pass left are the next pass's to scan.
        self.shadows.settle().await;
        outcome
    }

    async fn migrations_changed(&mut self) -> Outcome {
        if !self.config.watch.auto_apply {
            return Outcome::Done;
        }
        match self.apply_committed().await {
            Ok(()) => Outcome::Done,
            Err(e) => self.failed(&e).await,
        }
    }

    async fn reload(&mut self) {
        match load_config(&self.ctx.flags, &self.ctx.env, &self.ctx.cwd) {
            Ok(config) => {
                info!(event = "config.reloaded", "configuration reloaded");
                match long_lived_shadows(&config) {
                    Ok(shadows) => self.shadows = shadows,
                    Err(e) => {
                        error!(error = %e, "reloaded configuration has no usable shadow; keeping the old one");
                    }
                }
                self.config = config;
                self.dev = None;
            }
            Err(e) => {
                error!(error = %format!("{e:#}"), "configuration not reloaded: keeping the previous one");
            }
        }
    }
}

impl Daemon<'_> {
    async fn failed(&mut self, e: &anyhow::Error) -> Outcome {
        if self.server_away().await {
            return Outcome::Retry;
        }
        error!(event = "migration.failed", error = %format!("{e:#}"), "pass failed; the database is unchanged");
        Outcome::Done
    }
}

/// The daemon's shadows: it plans again and again (`Shadows::long_lived`).
fn long_lived_shadows(config: &Config) -> Result<Shadows, crate::error::UsageError> {
    Ok(Shadows {
        long_lived: true,
        ..Shadows::from_config(config)?
    })
}

/// The connection to the dev database, reconnecting when it went away.
async fn dev_connection<'c>(
    slot: &'c mut Option<PgConnection>,
    config: &Config,
) -> anyhow::Result<&'c mut PgConnection> {
    if let Some(conn) = slot {
        if conn.ping().await.is_ok() {
            return Ok(slot.as_mut().expect("checked above"));
        }
        *slot = None;
        info!(
            event = "database.reconnected",
            "reconnecting to the database"
        );
    }
    let url = config.require_database_url()?;
    let conn = crate::db::connect(url).await?;
    Ok(slot.insert(conn))
}

/// Reads the dev database's schema into `last`, incrementally since the previous pass.
async fn read_dev_schema(
    slot: &mut Option<PgConnection>,
    last: &mut Option<Snapshot>,
    config: &Config,
) -> anyhow::Result<()> {
    let base = last.take();
    let conn = dev_connection(slot, config).await?;
    let read = match &base {
        Some(base) => snapshot::since(conn, base).await.map(|(now, _)| now),
        None => snapshot::take(conn).await,
    };
    *last = Some(read.context("reading the dev database's schema")?);
    Ok(())
}

/// The draft as the dev database should record it.
struct Draft {
    /// `None` when there is no draft (the models equal the head state).
    version: Option<i64>,
    /// A draft that existed before this pass and is gone or renumbered now.
    stale: Option<i64>,
    checksum: Vec<u8>,
}

impl Draft {
    fn from_paths(
        written: Option<&(PathBuf, PathBuf)>,
        before: Option<&(PathBuf, PathBuf)>,
    ) -> anyhow::Result<Self> {
        let version_of =
            |p: &Path| -> Option<i64> { p.file_name()?.to_str()?.split('_').next()?.parse().ok() };
        let version = written.and_then(|(up, _)| version_of(up));
        let before = before.and_then(|(up, _)| version_of(up));
        let checksum = match written {
            Some((up, _)) => {
                checksum(&std::fs::read(up).with_context(|| format!("reading {}", up.display()))?)
            }
            None => Vec::new(),
        };
        Ok(Self {
            version,
            stale: before.filter(|b| Some(*b) != version),
            checksum,
        })
    }
}

/// The committed migrations, plus the draft when the dev database records it (a previous pass
/// applied it): without it, the draft's state row reads as an applied migration whose file is
/// missing, and every restart of the watcher failed its first pass on that.
async fn committed_and_recorded_draft(
    dir: &Path,
    conn: &mut PgConnection,
) -> anyhow::Result<crate::core::migration::MigrationSet> {
    let committed = crate::shadow::head::committed(dir)?;
    let draft = draft_files(dir)?.and_then(|(up, _)| {
        up.file_name()?
            .to_str()?
            .split('_')
            .next()?
            .parse::<i64>()
            .ok()
    });
    let Some(version) = draft else {
        return Ok(committed);
    };
    let recorded = history::read(conn).await?.unwrap_or_default();
    if recorded.iter().any(|r| r.version == version) {
        crate::migrations::load(dir)
    } else {
        Ok(committed)
    }
}

/// Whether the dev database's state row for the draft already has the file's checksum.
async fn draft_row_matches(conn: &mut PgConnection, draft: &Draft) -> anyhow::Result<bool> {
    let rows = history::read(conn).await?.unwrap_or_default();
    let row = |v: i64| rows.iter().find(|r| r.version == v);
    let stale_gone = draft.stale.is_none_or(|v| row(v).is_none());
    let current = match draft.version {
        Some(v) => row(v).is_some_and(|r| r.checksum == draft.checksum),
        None => true,
    };
    Ok(stale_gone && current)
}

/// The delta and the draft's state row, in one transaction; statements that cannot run in a
/// transaction run after it, one by one.
async fn run_delta(conn: &mut PgConnection, steps: &[Step], draft: &Draft) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut tx = conn.begin().await?;
    for step in steps.iter().filter(|s| !s.no_transaction) {
        for statement in &step.up {
            execute(&mut tx, statement, &step.summary).await?;
        }
    }
    for version in [draft.stale, draft.version].into_iter().flatten() {
        history::delete(&mut tx, version).await?;
    }
    if let Some(version) = draft.version {
        let ns = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        history::insert(&mut tx, version, "draft", &draft.checksum, ns).await?;
    }
    tx.commit().await?;
    for step in steps.iter().filter(|s| s.no_transaction) {
        for statement in &step.up {
            execute(conn, statement, &step.summary).await?;
        }
    }
    Ok(())
}

async fn execute(conn: &mut PgConnection, statement: &str, summary: &str) -> anyhow::Result<()> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(conn)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "{summary}: {}: {statement}",
                crate::db::connect::describe(&e)
            )
        })?;
    Ok(())
}

async fn record(
    conn: &mut PgConnection,
    draft: &Draft,
    started: Instant,
    backup: Option<&str>,
    err: Option<&anyhow::Error>,
) {
    let error = err.map(|e| format!("{e:#}"));
    let event = events::Event {
        version: draft.version,
        kind: events::EventKind::Up,
        started_at: now(),
        duration: started.elapsed(),
        backup_file: backup,
        success: err.is_none(),
        error: error.as_deref(),
        detail: Some("watch: draft applied to the dev database"),
    };
    if let Err(e) = events::record(conn, &event).await {
        warn!(error = %crate::db::connect::describe(&e), "could not record the event in migrated_events");
    }
}

#[allow(clippy::disallowed_methods)] // the daemon is an I/O edge: it reads the clock for the audit trail
fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

fn loses_data(step: &Step) -> bool {
    step.hazards.iter().any(|h| h.kind == HazardKind::DataLoss)
}

fn hazard_list(plan: &Plan) -> String {
    plan.steps
        .iter()
        .flat_map(|s| &s.hazards)
        .map(|h| format!("{} {}", h.kind.as_str(), h.object))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the blocked steps would drop, with row counts where the object is a table or column
/// of the dev database.
async fn describe_losses(
    conn: &mut PgConnection,
    current: &Schema,
    blocked: &[Step],
) -> Vec<String> {
    let mut out = Vec::new();
    for hazard in blocked
        .iter()
        .flat_map(|s| &s.hazards)
        .filter(|h| h.kind == HazardKind::DataLoss)
    {
        let count = count_rows(conn, current, &hazard.object).await;
        out.push(match count {
            Some((what, n)) => format!("{} ({n} {what})", hazard.object),
            None => format!("{} ({})", hazard.object, hazard.detail),
        });
    }
    out
}

async fn count_rows(
    conn: &mut PgConnection,
    current: &Schema,
    object: &str,
) -> Option<(&'static str, i64)> {
    let (key, column) = current.tables.keys().find_map(|key| {
        let table = key.to_string();
        if object == table {
            Some((key, None))
        } else {
            object
                .strip_prefix(&format!("{table}."))
                .map(|col| (key, Some(col.trim_matches('"').to_owned())))
        }
    })?;
    let (what, sql) = match &column {
        None => ("rows", format!("SELECT count(*) FROM {key}")),
        Some(col) => (
            "non-null values",
            format!("SELECT count({}) FROM {key}", quote_ident(col)),
        ),
    };
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
        .fetch_one(conn)
        .await
        .ok()
        .map(|n| (what, n))
}
