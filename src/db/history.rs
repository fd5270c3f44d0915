//! The state table `_sqlx_migrations`, exactly as sqlx creates and fills it, so that sqlx-cli
//! and `sqlx::migrate!` read a database that `migrated` manages (and the reverse).
//!
//! The table is unqualified, as sqlx has it: it lives in the first schema of the
//! `search_path` (normally `public`). Reading never creates it: the no-op `up` is one query.

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, Row as _};

use crate::core::migration::{AppliedMigration, StateTable};

/// sqlx's table name.
pub const TABLE: &str = "_sqlx_migrations";

/// sqlx's DDL, byte for byte in its columns and types.
pub const CREATE: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
    success BOOLEAN NOT NULL,
    checksum BYTEA NOT NULL,
    execution_time BIGINT NOT NULL
)";

/// Reads every row of the state table (simple protocol: one round trip).
const SELECT: &str = "SELECT version, description, installed_on, success, checksum, execution_time \
     FROM _sqlx_migrations ORDER BY version";

/// SQLSTATE undefined_table.
const UNDEFINED_TABLE: &str = "42P01";

/// The state table for `--sql` output.
pub fn state_table() -> StateTable<'static> {
    StateTable {
        name: TABLE,
        create: CREATE,
    }
}

/// Creates the state table unless it exists.
pub async fn ensure_table(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::raw_sql(AssertSqlSafe(CREATE))
        .execute(conn)
        .await
        .map_err(|e| anyhow::anyhow!("creating {TABLE}: {}", super::connect::describe(&e)))?;
    Ok(())
}

/// Every row, oldest first; `None` when the table does not exist yet (nothing applied).
pub async fn read(conn: &mut PgConnection) -> anyhow::Result<Option<Vec<AppliedMigration>>> {
    let rows = match sqlx::raw_sql(AssertSqlSafe(SELECT))
        .fetch_all(&mut *conn)
        .await
    {
        Ok(rows) => rows,
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(UNDEFINED_TABLE) => {
            return Ok(None);
        }
        Err(e) => anyhow::bail!("reading {TABLE}: {}", super::connect::describe(&e)),
    };
    rows.iter()
        .map(|row| {
            Ok(AppliedMigration {
                version: row.try_get("version")?,
                description: row.try_get("description")?,
                installed_on: row.try_get::<DateTime<Utc>, _>("installed_on")?,
                success: row.try_get("success")?,
                checksum: row.try_get("checksum")?,
                execution_time: row.try_get("execution_time")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map(Some)
        .with_context(|| format!("decoding a row of {TABLE}"))
}

/// Records a migration as applied (inside the caller's transaction when there is one).
pub async fn insert(
    conn: &mut PgConnection,
    version: i64,
    description: &str,
    checksum: &[u8],
    execution_time_ns: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, $2, TRUE, $3, $4)",
    )
    .bind(version)
    .bind(description)
    .bind(checksum)
    .bind(execution_time_ns)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets a migration (reverted, stamped away, or a failed entry removed by repair).
pub async fn delete(conn: &mut PgConnection, version: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(version)
        .execute(conn)
        .await?;
    Ok(())
}

/// Realigns a row with its edited file (repair).
pub async fn realign(
    conn: &mut PgConnection,
    version: i64,
    description: &str,
    checksum: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE _sqlx_migrations SET description = $2, checksum = $3 WHERE version = $1")
        .bind(version)
        .bind(description)
        .bind(checksum)
        .execute(conn)
        .await?;
    Ok(())
}
