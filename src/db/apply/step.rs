//! One migration, applied or reverted: in a transaction with its state row and event, or
//! statement by statement for a `-- no-transaction` file; `lock_timeout` retries; a failure
//! located at a file line and recorded in `migrated_events`.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgDatabaseError, PgErrorPosition};
use sqlx::{AssertSqlSafe, Connection as _, PgConnection};

use super::{ApplyError, ApplyOptions, Step};
use crate::core::migration::{Direction, Migration, Script, line_at, locate, split_statements};
use crate::db::connect::{describe, describe_pg, first_line};
use crate::db::events::{self, Event, EventKind};

/// SQLSTATE lock_not_available: `lock_timeout` expired.
const LOCK_NOT_AVAILABLE: &str = "55P03";

/// A migration that failed, before it is put in the run's context.
pub(super) struct Failure {
    line: Option<usize>,
    statement: Option<String>,
    cause: String,
    no_transaction_progress: Option<(usize, usize)>,
    lock_timeout: bool,
}

impl Failure {
    pub(super) fn into_error(
        self,
        m: &Migration,
        direction: Direction,
        done: Vec<i64>,
    ) -> ApplyError {
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
pub(super) async fn one(
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
    let statement_line = line_at(&script.sql, offset + lead);
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
