//! The audit trail `migrated_events`: one row for every up, down, stamp and repair, failures
//! included, with the host and tool version that did it and the backup taken before it.
//!
//! The introspection layer ignores this table (`public.migrated_events`), so it never shows
//! up as drift. A successful up/down writes its event in the migration's own transaction
//! (see `db::apply`); everything else goes through `record`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, Row as _};

/// The table's name (unqualified, next to `_sqlx_migrations`).
pub const TABLE: &str = "migrated_events";

pub const CREATE: &str = "CREATE TABLE IF NOT EXISTS migrated_events (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version BIGINT,
    direction TEXT NOT NULL CHECK (direction IN ('up', 'down', 'stamp', 'repair')),
    started_at TIMESTAMPTZ NOT NULL,
    duration_ms BIGINT NOT NULL,
    backup_file TEXT,
    host TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    success BOOLEAN NOT NULL,
    error TEXT,
    detail TEXT
)";

const UNDEFINED_TABLE: &str = "42P01";

/// What kind of change an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Up,
    Down,
    Stamp,
    Repair,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Down => "down",
            Self::Stamp => "stamp",
            Self::Repair => "repair",
        }
    }
}

/// One event to write.
#[derive(Debug, Clone)]
pub struct Event<'a> {
    pub version: Option<i64>,
    pub kind: EventKind,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub backup_file: Option<&'a str>,
    pub success: bool,
    pub error: Option<&'a str>,
    pub detail: Option<&'a str>,
}

impl<'a> Event<'a> {
    /// A successful event with no backup, which `stamp` and `repair` record.
    pub fn success(
        kind: EventKind,
        version: Option<i64>,
        started_at: DateTime<Utc>,
        duration: Duration,
        detail: &'a str,
    ) -> Self {
        Self {
            version,
            kind,
            started_at,
            duration,
            backup_file: None,
            success: true,
            error: None,
            detail: Some(detail),
        }
    }
}

/// A row of the trail, as read back.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventRow {
    pub id: i64,
    pub version: Option<i64>,
    pub direction: String,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub backup_file: Option<String>,
    pub host: String,
    pub tool_version: String,
    pub success: bool,
    pub error: Option<String>,
    pub detail: Option<String>,
}

/// Creates the table unless it exists.
pub async fn ensure_table(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::raw_sql(AssertSqlSafe(CREATE))
        .execute(conn)
        .await
        .map_err(|e| anyhow::anyhow!("creating {TABLE}: {}", super::connect::describe(&e)))?;
    Ok(())
}

/// This machine's name, for the `host` column.
pub fn host() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned())
    })
    .clone()
}

/// The tool's version, for the `tool_version` column.
pub const TOOL_VERSION: &str = concat!("migrated ", env!("CARGO_PKG_VERSION"));

pub fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Writes one event (the table must exist).
pub async fn record(conn: &mut PgConnection, event: &Event<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO migrated_events (version, direction, started_at, duration_ms, backup_file, host, tool_version, success, error, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(event.version)
    .bind(event.kind.as_str())
    .bind(event.started_at)
    .bind(millis(event.duration))
    .bind(event.backup_file)
    .bind(host())
    .bind(TOOL_VERSION)
    .bind(event.success)
    .bind(event.error)
    .bind(event.detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// The whole trail, oldest first; empty when the table does not exist.
pub async fn read(conn: &mut PgConnection) -> anyhow::Result<Vec<EventRow>> {
    let sql = "SELECT id, version, direction, started_at, duration_ms, backup_file, host, tool_version, success, error, detail \
               FROM migrated_events ORDER BY id";
    let rows = match sqlx::raw_sql(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNDEFINED_TABLE) => {
            return Ok(Vec::new());
        }
        Err(e) => anyhow::bail!("reading {TABLE}: {}", super::connect::describe(&e)),
    };
    rows.iter()
        .map(|r| {
            Ok(EventRow {
                id: r.try_get("id")?,
                version: r.try_get("version")?,
                direction: r.try_get("direction")?,
                started_at: r.try_get("started_at")?,
                duration_ms: r.try_get("duration_ms")?,
                backup_file: r.try_get("backup_file")?,
                host: r.try_get("host")?,
                tool_version: r.try_get("tool_version")?,
                success: r.try_get("success")?,
                error: r.try_get("error")?,
                detail: r.try_get("detail")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(|e| anyhow::anyhow!("decoding a row of {TABLE}: {e}"))
}
