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

mod step;

use std::fmt;
use std::time::Duration;

use sqlx::PgConnection;

use super::{events, history, lock};
use crate::config::Config;
use crate::core::migration::{
    AppliedMigration, Direction, DownTarget, MigrationError, MigrationSet, Plan, UpTarget,
    current_version, plan_down, plan_up,
};

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
    locked_run(conn, set, Direction::Up, opts, |applied| {
        plan_up(set, applied, target)
    })
    .await
}

/// Reverts applied migrations down to `target`, under the lock (as `up`).
pub async fn down(
    conn: &mut PgConnection,
    set: &MigrationSet,
    target: DownTarget,
    opts: &ApplyOptions,
) -> anyhow::Result<Report> {
    locked_run(conn, set, Direction::Down, opts, |applied| {
        plan_down(set, applied, target)
    })
    .await
}

/// Plans from the state table; if nothing is to do, returns without locking. Otherwise
/// locks, re-plans from the state read under the lock, runs, and releases the lock.
async fn locked_run(
    conn: &mut PgConnection,
    set: &MigrationSet,
    direction: Direction,
    opts: &ApplyOptions,
    plan: impl Fn(&[AppliedMigration]) -> Result<Plan, MigrationError>,
) -> anyhow::Result<Report> {
    let applied = history::read(conn).await?.unwrap_or_default();
    if plan(&applied)?.is_empty() {
        return Ok(Report::empty(direction, &applied));
    }
    lock::with_lock(
        conn,
        opts.advisory_lock_timeout,
        async |conn: &mut PgConnection| {
            ensure_tables(conn).await?;
            let applied = history::read(conn).await?.unwrap_or_default();
            let plan = plan(&applied)?;
            Ok(run(conn, set, &plan, opts).await?.after(&applied))
        },
    )
    .await
}

/// Creates `_sqlx_migrations` and `migrated_events` unless they exist. Call under the lock.
pub async fn ensure_tables(conn: &mut PgConnection) -> anyhow::Result<()> {
    // Both in one message: one round trip.
    let sql = format!("{};\n{}", history::CREATE, events::CREATE);
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(conn)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "creating {} and {}: {}",
                history::TABLE,
                events::TABLE,
                super::connect::describe(&e)
            )
        })?;
    Ok(())
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
        match step::one(conn, migration, plan.direction, opts, last).await {
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
    let previous: String = sqlx::query_scalar("SELECT current_setting('lock_timeout')")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("SELECT set_config('lock_timeout', $1, false)")
        .bind(format!("{}ms", timeout.as_millis()))
        .execute(conn)
        .await?;
    Ok(previous)
}

async fn restore_lock_timeout(conn: &mut PgConnection, previous: &str) {
    let _ = sqlx::query("SELECT set_config('lock_timeout', $1, false)")
        .bind(previous)
        .execute(conn)
        .await;
}
