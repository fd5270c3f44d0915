//! Carrying out a plan: our own loop, not sqlx's `Migrator::run` (which leaks its advisory
//! lock when a migration fails and cannot run a no-transaction file with several statements).
//!
//! - One transaction per migration, its state row and its audit event written inside it, so a
//!   migration is applied and recorded together or not at all (a killed process leaves the
//!   database at a migration boundary).
//! - A `-- no-transaction` file runs statement by statement (split by PostgreSQL's parser:
//!   a multi-statement message is one implicit transaction) and is recorded only when every
//!   statement succeeded.
//! - `lock_timeout` is set for the session, and a statement that fails with
//!   `lock_not_available` (55P03) is retried a bounded number of times, so a migration never
//!   queues behind a long transaction and stalls production traffic.
//! - A failure names the version, the file and line, the statement, and how far the run got.
//! - Every migration but the last of a run commits with `synchronous_commit = off`; the last
//!   one commits synchronously, which flushes the WAL of all the earlier ones. A crash can
//!   lose a tail of migrations together with their rows (never one without the other), and
//!   once a run reports success all of it is durable.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgDatabaseError, PgErrorPosition};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

use super::connect::{describe, describe_pg, first_line};
use super::events::{self, Event, EventKind};
use super::{history, lock};
use crate::config::Config;
use crate::core::migration::{
    AppliedMigration, Direction, DownTarget, Migration, MigrationSet, Plan, Script, UpTarget,
    current_version, locate, plan_down, plan_up, split_statements,
};

/// SQLSTATE lock_not_available: `lock_timeout` expired.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// How an apply behaves (from the config, plus what the caller knows).
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// `SET lock_timeout` for the statements of migrations.
    pub lock_timeout: Duration,
    /// How many times a statement that hit `lock_timeout` is retried.
    pub lock_retries: u32,
    /// How long to wait for the migration (advisory) lock.
    pub advisory_lock_timeout: Duration,
    /// The backup taken before this run, recorded with every event.
    pub backup_file: Option<String>,
}

impl ApplyOptions {
    pub fn from_config(config: &Config) -> Self {
        Self {
            lock_timeout: config.lock_timeout,
            lock_retries: config.lock_retries,
            advisory_lock_timeout: config.advisory_lock_timeout,
            backup_file: None,
        }
    }
}

/// One migration applied or reverted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub version: i64,
    pub description: String,
    pub duration: Duration,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub direction: Direction,
    pub steps: Vec<Step>,
    /// The newest applied version after the run (set by `up`/`down`; `run` leaves `None`).
    pub current: Option<i64>,
}

impl Report {
    fn empty(direction: Direction, applied: &[AppliedMigration]) -> Self {
        Self {
            direction,
            steps: Vec::new(),
            current: current_version(applied),
        }
    }

    /// Fills `current` from the state the plan started from.
    fn after(mut self, applied: &[AppliedMigration]) -> Self {
        let mut versions: Vec<i64> = applied
            .iter()
            .filter(|r| r.success)
            .map(|r| r.version)
            .collect();
        for step in &self.steps {
            match self.direction {
                Direction::Up => versions.push(step.version),
                Direction::Down => versions.retain(|v| *v != step.version),
            }
        }
        self.current = versions.into_iter().max();
        self
    }
}

/// Why a migration failed, and how far the run had got. One line.
#[derive(Debug, thiserror::Error)]
pub struct ApplyError {
    pub direction: Direction,
    pub version: i64,
    pub description: String,
    pub file: String,
    /// 1-based line of the file, when known.
    pub line: Option<usize>,
    /// The failing statement, folded onto one line.
    pub statement: Option<String>,
    pub cause: String,
    /// Migrations this run completed before the failure.
    pub done: Vec<i64>,
    /// For a no-transaction file: statements that ran (and stay) before the failing one.
    pub no_transaction_progress: Option<(usize, usize)>,
}

impl fmt::Display for ApplyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.direction {
            Direction::Up => "applying",
            Direction::Down => "reverting",
        };
        write!(
            f,
            "{verb} migration {} ({}) failed at {}",
            self.version, self.description, self.file
        )?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.cause)?;
        if let Some(stmt) = &self.statement {
            write!(f, "; statement: {stmt}")?;
        }
        match self.no_transaction_progress {
            Some((ran, total)) => write!(
                f,
                "; no-transaction file: {ran} of its {total} statements ran and stay applied, it is not recorded"
            )?,
            None => write!(f, "; migration {} was rolled back", self.version)?,
        }
        let done = match self.direction {
            Direction::Up => "applied",
            Direction::Down => "reverted",
        };
        if self.done.is_empty() {
            write!(f, "; nothing was {done} before it")
        } else {
            let list: Vec<String> = self.done.iter().map(i64::to_string).collect();
            write!(f, "; {done} before it: {}", list.join(", "))
        }
    }
}

/// Applies pending migrations up to `target`. The no-op path is one query; when something
/// is pending it takes the lock, creates the tables if needed, re-reads the state under the
/// lock (another replica may have applied it meanwhile), applies, and releases the lock.
pub async fn up(
    conn: &mut PgConnection,
    set: &MigrationSet,
    target: UpTarget,
    opts: &ApplyOptions,
) -> anyhow::Result<Report> {
    let applied = history::read(conn).await?.unwrap_or_default();
    if plan_up(set, &applied, target)?.is_empty() {
        return Ok(Report::empty(Direction::Up, &applied));
    }
    lock::with_lock(
        conn,
        opts.advisory_lock_timeout,
        async |conn: &mut PgConnection| {
            ensure_tables(conn).await?;
            let applied = history::read(conn).await?.unwrap_or_default();
            let plan = plan_up(set, &applied, target)?;
            Ok(run(conn, set, &plan, opts).await?.after(&applied))
        },
    )
    .await
}

/// Reverts applied migrations down to `target`, under the lock.
pub async fn down(
    conn: &mut PgConnection,
    set: &MigrationSet,
    target: DownTarget,
    opts: &ApplyOptions,
) -> anyhow::Result<Report> {
    let applied = history::read(conn).await?.unwrap_or_default();
    if plan_down(set, &applied, target)?.is_empty() {
        return Ok(Report::empty(Direction::Down, &applied));
    }
    lock::with_lock(
        conn,
        opts.advisory_lock_timeout,
        async |conn: &mut PgConnection| {
            ensure_tables(conn).await?;
            let applied = history::read(conn).await?.unwrap_or_default();
            let plan = plan_down(set, &applied, target)?;
            Ok(run(conn, set, &plan, opts).await?.after(&applied))
        },
    )
    .await
}

/// Creates `_sqlx_migrations` and `migrated_events` unless they exist. Call under the lock.
pub async fn ensure_tables(conn: &mut PgConnection) -> anyhow::Result<()> {
    history::ensure_table(conn).await?;
    events::ensure_table(conn).await
}

/// Carries out a plan. The caller holds the migration lock and has created the tables
/// (`ensure_tables`); every version of the plan is in `set`.
pub async fn run(
    conn: &mut PgConnection,
    set: &MigrationSet,
    plan: &Plan,
    opts: &ApplyOptions,
) -> Result<Report, ApplyError> {
    let mut steps = Vec::new();
    let previous = set_lock_timeout(conn, opts.lock_timeout).await;
    let mut result = Ok(());
    for (i, version) in plan.versions.iter().enumerate() {
        let migration = set
            .get(*version)
            .expect("BUG: a plan names only known versions");
        let last = i + 1 == plan.versions.len();
        match one(conn, migration, plan.direction, opts, last).await {
            Ok(step) => steps.push(step),
            Err(failure) => {
                let done = steps.iter().map(|s: &Step| s.version).collect();
                result = Err(failure.into_error(migration, plan.direction, done));
                break;
            }
        }
    }
    if let Ok(previous) = previous {
        restore_lock_timeout(conn, &previous).await;
    }
    result.map(|()| Report {
        direction: plan.direction,
        steps,
        current: None,
    })
}

async fn set_lock_timeout(
    conn: &mut PgConnection,
    timeout: Duration,
) -> Result<String, sqlx::Error> {
    let ms = format!("{}ms", timeout.as_millis());
    sqlx::query_scalar("SELECT current_setting('lock_timeout') FROM (SELECT set_config('lock_timeout', $1, false)) s")
        .bind(ms)
        .fetch_one(conn)
        .await
}

async fn restore_lock_timeout(conn: &mut PgConnection, previous: &str) {
    let _ = sqlx::query("SELECT set_config('lock_timeout', $1, false)")
        .bind(previous)
        .execute(conn)
        .await;
}

/// A migration that failed, before it is put in the run's context.
struct Failure {
    line: Option<usize>,
    statement: Option<String>,
    cause: String,
    no_transaction_progress: Option<(usize, usize)>,
    lock_timeout: bool,
}

impl Failure {
    fn into_error(self, m: &Migration, direction: Direction, done: Vec<i64>) -> ApplyError {
        ApplyError {
            direction,
            version: m.version,
            description: m.description.clone(),
            file: script(m, direction).file.clone(),
            line: self.line,
            statement: self.statement,
            cause: self.cause,
            done,
            no_transaction_progress: self.no_transaction_progress,
        }
    }
}

fn script(m: &Migration, direction: Direction) -> &Script {
    match direction {
        Direction::Up => &m.up,
        Direction::Down => m
            .down
            .as_ref()
            .expect("BUG: plan_down checked every down file"),
    }
}

/// Applies or reverts one migration and records it (state row + event); a failure is
/// recorded as an event too.
async fn one(
    conn: &mut PgConnection,
    m: &Migration,
    direction: Direction,
    opts: &ApplyOptions,
    last: bool,
) -> Result<Step, Failure> {
    #[allow(clippy::disallowed_methods)] // the I/O edge reads the clock for the audit trail
    let started_at = Utc::now();
    let started = Instant::now();
    let script = script(m, direction);
    let result = if script.no_transaction {
        without_transaction(conn, m, script, direction, opts, started_at).await
    } else {
        with_retries(opts, async || {
            in_transaction(conn, m, script, direction, opts, started_at, last).await
        })
        .await
    };
    let duration = started.elapsed();
    match result {
        Ok(()) => {
            tracing::info!(
                event = if direction == Direction::Up {
                    "migration.applied"
                } else {
                    "migration.reverted"
                },
                version = m.version,
                duration_ms = events::millis(duration),
                "{}",
                m.description
            );
            Ok(Step {
                version: m.version,
                description: m.description.clone(),
                duration,
            })
        }
        Err(failure) => {
            tracing::error!(event = "migration.failed", version = m.version, error = %failure.cause, "{}", m.description);
            record_failure(conn, m, direction, opts, started_at, duration, &failure).await;
            Err(failure)
        }
    }
}

/// Retries `attempt` while it fails on `lock_timeout`, at most `lock_retries` more times.
async fn with_retries(
    opts: &ApplyOptions,
    mut attempt: impl AsyncFnMut() -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(f) if f.lock_timeout && tries < opts.lock_retries => {
                tries += 1;
                tracing::warn!(attempt = tries, retries = opts.lock_retries, error = %f.cause, "lock_timeout hit, retrying");
                tokio::time::sleep(backoff(tries)).await;
            }
            Err(mut f) if f.lock_timeout => {
                f.cause = format!(
                    "{} (lock_timeout {} ms, {} attempts: a long transaction holds a lock this statement needs)",
                    f.cause,
                    opts.lock_timeout.as_millis(),
                    tries + 1
                );
                return Err(f);
            }
            other => return other,
        }
    }
}

fn backoff(tries: u32) -> Duration {
    Duration::from_millis(100 * 2u64.pow(tries.min(5)))
}

async fn in_transaction(
    conn: &mut PgConnection,
    m: &Migration,
    script: &Script,
    direction: Direction,
    opts: &ApplyOptions,
    started_at: DateTime<Utc>,
    last: bool,
) -> Result<(), Failure> {
    let begin = if last {
        "BEGIN"
    } else {
        "BEGIN; SET LOCAL synchronous_commit TO off"
    };
    let started = Instant::now();
    let mut tx = conn.begin_with(begin).await.map_err(|e| plain(&e))?;
    execute_script(&mut tx, script, &mut 0).await?;
    record_success(&mut tx, m, direction, opts, started_at, started.elapsed())
        .await
        .map_err(|e| plain(&e))?;
    tx.commit().await.map_err(|e| plain(&e))
}

async fn without_transaction(
    conn: &mut PgConnection,
    m: &Migration,
    script: &Script,
    direction: Direction,
    opts: &ApplyOptions,
    started_at: DateTime<Utc>,
) -> Result<(), Failure> {
    let started = Instant::now();
    let mut ran = 0;
    let total = split_statements(&script.sql).map_or(1, |s| s.len());
    let result = execute_script_retrying(conn, script, opts, &mut ran).await;
    if let Err(mut f) = result {
        f.no_transaction_progress = Some((ran, total));
        return Err(f);
    }
    record_success(conn, m, direction, opts, started_at, started.elapsed())
        .await
        .map_err(|e| plain(&e))
}

/// Runs the statements of a script one by one (a script the parser cannot split is sent
/// whole, and the server reports where it is wrong). `ran` counts the statements that ran.
async fn execute_script(
    conn: &mut PgConnection,
    script: &Script,
    ran: &mut usize,
) -> Result<(), Failure> {
    match split_statements(&script.sql) {
        Ok(statements) => {
            for s in statements {
                execute(conn, script, s.text, s.offset).await?;
                *ran += 1;
            }
            Ok(())
        }
        Err(_) => execute(conn, script, &script.sql, 0).await,
    }
}

/// As `execute_script`, retrying a single statement on `lock_timeout` (no transaction to
/// roll back: the statements before it are committed).
async fn execute_script_retrying(
    conn: &mut PgConnection,
    script: &Script,
    opts: &ApplyOptions,
    ran: &mut usize,
) -> Result<(), Failure> {
    let Ok(statements) = split_statements(&script.sql) else {
        return with_retries(opts, async || execute(conn, script, &script.sql, 0).await).await;
    };
    for s in statements {
        with_retries(opts, async || execute(conn, script, s.text, s.offset).await).await?;
        *ran += 1;
    }
    Ok(())
}

async fn execute(
    conn: &mut PgConnection,
    script: &Script,
    text: &str,
    offset: usize,
) -> Result<(), Failure> {
    match sqlx::raw_sql(AssertSqlSafe(text.to_owned()))
        .execute(&mut *conn)
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => Err(statement_failure(&e, script, text, offset)),
    }
}

fn statement_failure(err: &sqlx::Error, script: &Script, text: &str, offset: usize) -> Failure {
    let pg = match err {
        sqlx::Error::Database(db) => db.try_downcast_ref::<PgDatabaseError>(),
        _ => None,
    };
    let lead = text.len() - text.trim_start().len();
    let statement_line = crate::core::migration::line_at(&script.sql, offset + lead);
    let line = match pg.and_then(PgDatabaseError::position) {
        Some(PgErrorPosition::Original(p)) => locate(&script.sql, offset, p),
        _ => statement_line,
    };
    Failure {
        line: Some(line),
        statement: Some(shorten(&first_line(text), 200)),
        cause: pg.map_or_else(|| describe(err), describe_pg),
        no_transaction_progress: None,
        lock_timeout: pg.is_some_and(|p| p.code() == LOCK_NOT_AVAILABLE),
    }
}

fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_owned(),
    }
}

fn plain(err: &sqlx::Error) -> Failure {
    Failure {
        line: None,
        statement: None,
        cause: describe(err),
        no_transaction_progress: None,
        lock_timeout: false,
    }
}

/// The state row and the event in one statement (one round trip), inside the migration's
/// transaction when it has one.
async fn record_success(
    conn: &mut PgConnection,
    m: &Migration,
    direction: Direction,
    opts: &ApplyOptions,
    started_at: DateTime<Utc>,
    elapsed: Duration,
) -> Result<(), sqlx::Error> {
    // The event takes $1 (version) and $2..$7; the state statement adds $8.. for up.
    const EVENT: &str = "INSERT INTO migrated_events \
         (version, direction, started_at, duration_ms, backup_file, host, tool_version, success) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, TRUE)";
    let (sql, kind) = match direction {
        Direction::Up => (
            format!(
                "WITH state AS (INSERT INTO _sqlx_migrations \
                 (version, description, success, checksum, execution_time) \
                 VALUES ($1, $8, TRUE, $9, $10)) {EVENT}"
            ),
            EventKind::Up,
        ),
        Direction::Down => (
            format!("WITH state AS (DELETE FROM _sqlx_migrations WHERE version = $1) {EVENT}"),
            EventKind::Down,
        ),
    };
    let query = sqlx::query(AssertSqlSafe(sql))
        .bind(m.version)
        .bind(kind.as_str())
        .bind(started_at)
        .bind(events::millis(elapsed))
        .bind(opts.backup_file.as_deref())
        .bind(events::host())
        .bind(events::TOOL_VERSION);
    let query = match direction {
        Direction::Up => query
            .bind(&m.description)
            .bind(&m.up.checksum)
            .bind(i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)),
        Direction::Down => query,
    };
    query.execute(conn).await?;
    Ok(())
}

/// Best effort: the failure itself is what the caller reports.
async fn record_failure(
    conn: &mut PgConnection,
    m: &Migration,
    direction: Direction,
    opts: &ApplyOptions,
    started_at: DateTime<Utc>,
    duration: Duration,
    failure: &Failure,
) {
    let kind = if direction == Direction::Up {
        EventKind::Up
    } else {
        EventKind::Down
    };
    let error = match failure.line {
        Some(line) => format!("line {line}: {}", failure.cause),
        None => failure.cause.clone(),
    };
    let event = Event {
        version: Some(m.version),
        kind,
        started_at,
        duration,
        backup_file: opts.backup_file.as_deref(),
        success: false,
        error: Some(&error),
        detail: failure.statement.as_deref(),
    };
    if let Err(e) = events::record(conn, &event).await {
        tracing::warn!(version = m.version, error = %describe(&e), "could not record the failure in migrated_events");
    }
}
