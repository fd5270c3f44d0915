//! Connecting: one attempt with a one-line error that names the redacted URL (never the
//! password), and a bounded retry for callers that wait for a database to come up
//! (`--once` in a container that starts next to its database).

use std::fmt::Write as _;
use std::str::FromStr as _;
use std::time::{Duration, Instant};

use sqlx::PgConnection;
use sqlx::postgres::{PgConnectOptions, PgDatabaseError};

use crate::config::DatabaseUrl;
use crate::error::UsageError;

/// One connection attempt is abandoned after this long (an unroutable host would otherwise
/// hang for the kernel's TCP timeout).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// The application name the tool's sessions show in `pg_stat_activity` unless the URL
/// sets one.
pub const APPLICATION_NAME: &str = "migrated";

/// The URL as connect options, with our application name unless the URL sets one.
pub fn options(url: &DatabaseUrl) -> Result<PgConnectOptions, UsageError> {
    let options = PgConnectOptions::from_str(url.expose()).map_err(|e| {
        UsageError(format!(
            "invalid database url {}: {}",
            url.redacted(),
            first_line(&e.to_string())
        ))
    })?;
    let options = if options.get_application_name().is_some() {
        options
    } else {
        options.application_name(APPLICATION_NAME)
    };
    // sqlx logs every statement (and "slow" ones as warnings) through tracing; the tool
    // reports what it runs itself, so these would only be noise in the user's log.
    Ok(sqlx::ConnectOptions::disable_statement_logging(options))
}

/// Connects once with the project's options (application name, TCP_NODELAY, no statement
/// logging), keeping sqlx's error for callers that branch on its kind (the shadow creates a
/// missing database). Others use `connect`, whose error is one line for users.
pub async fn connect_raw(url: &DatabaseUrl) -> Result<PgConnection, sqlx::Error> {
    connect_raw_with(url, &[]).await
}

/// As `connect_raw`, with server settings for the session (sent in the startup message: no
/// extra round trip).
pub async fn connect_raw_with(
    url: &DatabaseUrl,
    settings: &[(&str, &str)],
) -> Result<PgConnection, sqlx::Error> {
    let options = options(url)
        .map_err(|e| sqlx::Error::Configuration(e.0.into()))?
        .options(settings.iter().copied());
    super::nodelay::connect(&options).await
}

/// Connects once. The error is one line: `cannot connect to <redacted url>: <cause>`.
pub async fn connect(url: &DatabaseUrl) -> anyhow::Result<PgConnection> {
    let options = options(url)?;
    attempt(&options, url, ATTEMPT_TIMEOUT).await
}

/// Connects, retrying with a bounded backoff (100 ms doubling to 2 s) until `timeout` has
/// passed; the error after the last attempt says how long it waited and why it failed.
pub async fn connect_with_retry(
    url: &DatabaseUrl,
    timeout: Duration,
) -> anyhow::Result<PgConnection> {
    let options = options(url)?;
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        match attempt(
            &options,
            url,
            left.clamp(Duration::from_millis(100), ATTEMPT_TIMEOUT),
        )
        .await
        {
            Ok(conn) => return Ok(conn),
            Err(e) if started.elapsed() >= timeout => {
                anyhow::bail!(
                    "gave up after waiting {:.1}s for the database: {e:#}",
                    started.elapsed().as_secs_f64()
                );
            }
            Err(e) => {
                tracing::info!(url = %url, error = %e, "database not ready, retrying");
                // The last attempt happens at the deadline, not one backoff step before it.
                tokio::time::sleep(delay.min(timeout.saturating_sub(started.elapsed()))).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

async fn attempt(
    options: &PgConnectOptions,
    url: &DatabaseUrl,
    timeout: Duration,
) -> anyhow::Result<PgConnection> {
    // Through `nodelay`: sqlx cannot set TCP_NODELAY itself, and without it every TLS
    // handshake waits twice for the server's delayed ACK (~90 ms instead of ~6 ms per
    // connection, measured; see db/nodelay.rs).
    match tokio::time::timeout(timeout, super::nodelay::connect(options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => anyhow::bail!("cannot connect to {url}: {}", describe(&e)),
        Err(_) => anyhow::bail!(
            "cannot connect to {url}: no answer within {:.1}s",
            timeout.as_secs_f64()
        ),
    }
}

/// A sqlx error as one line for users. A server error shows its message and SQLSTATE, never
/// sqlx's Display, which appends the *server's C source line* (`at line 664`).
pub fn describe(err: &sqlx::Error) -> String {
    match err {
        sqlx::Error::Database(db) => match db.try_downcast_ref::<PgDatabaseError>() {
            Some(pg) => describe_pg(pg),
            None => first_line(db.message()),
        },
        other => first_line(&other.to_string()),
    }
}

/// `message (SQLSTATE code)`, plus the detail and hint when the server sent them.
pub fn describe_pg(pg: &PgDatabaseError) -> String {
    let mut out = format!("{} (SQLSTATE {})", pg.message(), pg.code());
    if let Some(detail) = pg.detail() {
        let _ = write!(out, "; detail: {detail}");
    }
    if let Some(hint) = pg.hint() {
        let _ = write!(out, "; hint: {hint}");
    }
    first_line(&out)
}

/// Text folded onto one line.
pub fn first_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Ends the session politely (a Terminate message), so the server does not log an
/// unexpected EOF for every command; errors are irrelevant at this point.
pub async fn close(conn: PgConnection) {
    use sqlx::Connection as _;
    let _ = conn.close().await;
}
