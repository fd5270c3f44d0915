//! One consistent view of the database for the whole backup: the leader opens a
//! `REPEATABLE READ READ ONLY` transaction and exports its snapshot; every worker connection
//! joins it with `SET TRANSACTION SNAPSHOT`, so all tables are read as of the same instant.
//!
//! Sessions are set up as pg_dump sets up its own: every name rendered fully qualified
//! (`search_path` empty), exact floats, ISO dates, and row security off so that a policy can
//! never silently hide rows (the COPY fails instead).

use anyhow::Context as _;
use sqlx::PgConnection;

/// Session settings for every connection that reads for a backup.
const SESSION_SETUP: &str = "SELECT pg_catalog.set_config('search_path', '', false);
SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET extra_float_digits = 3;
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
SET timezone = 'UTC';
SET row_security = off;";

/// Facts about the server and the snapshot, for the file header.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    /// The exported snapshot id (`pg_export_snapshot()`).
    pub id: String,
    pub server_version: String,
    pub server_version_num: i32,
    pub database: String,
    /// The snapshot's time (the transaction's start), RFC 3339 in UTC.
    pub taken_at: String,
}

/// The leader: owns the exported snapshot for as long as its transaction stays open.
pub struct Leader {
    pub conn: PgConnection,
    pub info: SnapshotInfo,
}

/// Connects, opens the snapshot transaction and exports it.
pub async fn begin(url: &str) -> anyhow::Result<Leader> {
    let mut conn = connect(url).await?;
    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut conn)
        .await
        .context("opening the snapshot transaction")?;
    let row: (String, String, i32, String, String) = sqlx::query_as(
        "SELECT pg_export_snapshot(), current_setting('server_version'),
                current_setting('server_version_num')::int4, current_database()::text,
                to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
    )
    .fetch_one(&mut conn)
    .await
    .context("exporting the snapshot")?;
    let (id, server_version, server_version_num, database, taken_at) = row;
    Ok(Leader {
        conn,
        info: SnapshotInfo {
            id,
            server_version,
            server_version_num,
            database,
            taken_at,
        },
    })
}

/// A worker connection reading in the leader's snapshot.
pub async fn join(url: &str, snapshot_id: &str) -> anyhow::Result<PgConnection> {
    let mut conn = connect(url).await?;
    sqlx::raw_sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .execute(&mut conn)
        .await
        .context("opening a worker transaction")?;
    // SET TRANSACTION SNAPSHOT takes no bind parameter; the id is a literal.
    let sql = format!(
        "SET TRANSACTION SNAPSHOT {}",
        crate::core::render::quote_literal(snapshot_id)
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .context("joining the exported snapshot")?;
    Ok(conn)
}

/// Locks every table to be read in ACCESS SHARE mode, as pg_dump does, so that no DDL can
/// drop or alter one of them while the backup runs (writes go on).
pub async fn lock_tables(conn: &mut PgConnection, names: &[String]) -> anyhow::Result<()> {
    for chunk in names.chunks(500) {
        let sql = format!("LOCK TABLE {} IN ACCESS SHARE MODE", chunk.join(", "));
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *conn)
            .await
            .context("locking the tables to back up")?;
    }
    Ok(())
}

async fn connect(url: &str) -> anyhow::Result<PgConnection> {
    let mut conn = crate::db::connect(&crate::config::DatabaseUrl::new(url))
        .await
        .context("connecting to the database to back up")?;
    sqlx::raw_sql(SESSION_SETUP)
        .execute(&mut conn)
        .await
        .context("setting up the backup session")?;
    Ok(conn)
}
