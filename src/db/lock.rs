//! The migration lock: sqlx's session advisory lock, so `migrated`, sqlx-cli and
//! `sqlx::migrate!` exclude each other, with a bounded wait that names the holder and an
//! explicit release on every path (sqlx's own runner leaks it when a migration fails).
//!
//! Key: `0x3d32ad9e * crc32(current_database())` as i64, as in sqlx-postgres 0.9
//! `migrate.rs::generate_lock_id` (CRC-32/ISO-HDLC; the product always fits in an i64).

use std::time::{Duration, Instant};

use sqlx::PgConnection;

use super::connect::describe;

const CRC_IEEE: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// sqlx's advisory lock key for a database name.
pub fn key(database: &str) -> i64 {
    0x3d32_ad9e * i64::from(CRC_IEEE.checksum(database.as_bytes()))
}

/// A held migration lock. Release it with `release` (session locks also die with the
/// connection, which is what protects a killed process).
#[derive(Debug)]
#[must_use = "a held lock must be released"]
pub struct MigrationLock {
    key: i64,
    database: String,
}

/// Takes the lock, polling until `timeout`. While waiting it logs who holds it; on timeout
/// the error names the holder's pid, application name and client address.
pub async fn acquire(conn: &mut PgConnection, timeout: Duration) -> anyhow::Result<MigrationLock> {
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| anyhow::anyhow!("reading the database name: {}", describe(&e)))?;
    let key = key(&database);
    let started = Instant::now();
    let mut delay = Duration::from_millis(20);
    let mut logged = false;
    loop {
        if try_lock(conn, key).await? {
            return Ok(MigrationLock { key, database });
        }
        let holder = holder(conn, key).await;
        if started.elapsed() >= timeout {
            anyhow::bail!(
                "timed out after {}s waiting for the migration lock on database {database}: it is held by {holder}",
                timeout.as_secs()
            );
        }
        if !logged {
            tracing::info!(%holder, "waiting for the migration lock");
            logged = true;
        }
        tokio::time::sleep(delay.min(timeout.saturating_sub(started.elapsed()))).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

async fn try_lock(conn: &mut PgConnection, key: i64) -> anyhow::Result<bool> {
    sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(conn)
        .await
        .map_err(|e| anyhow::anyhow!("taking the migration lock: {}", describe(&e)))
}

/// Who holds the lock: `pid 123 (application_name "migrated", client 10.0.0.5, since ...)`.
async fn holder(conn: &mut PgConnection, key: i64) -> String {
    // pg_locks shows a bigint advisory key as classid (high 32 bits) and objid (low 32 bits),
    // with objsubid 1; pg_stat_activity says who that session is.
    let row: Result<Option<(i32, String, String, String)>, _> = sqlx::query_as(
        "SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local socket'), \
                coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '?') \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
           AND l.classid::bigint = $1 AND l.objid::bigint = $2 \
         LIMIT 1",
    )
    .bind(key >> 32)
    .bind(key & 0xffff_ffff)
    .fetch_optional(conn)
    .await;
    match row {
        Ok(Some((pid, app, client, since))) => format!(
            "pid {pid} (application_name {app:?}, client {client}, connected since {since})"
        ),
        Ok(None) => "another session (it was released meanwhile)".to_owned(),
        Err(e) => format!(
            "another session (could not read pg_locks: {})",
            describe(&e)
        ),
    }
}

impl MigrationLock {
    /// Releases the lock. Call it on every path, failures included.
    pub async fn release(self, conn: &mut PgConnection) -> anyhow::Result<()> {
        let released: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .fetch_one(conn)
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "releasing the migration lock on {} (it ends with the session): {}",
                    self.database,
                    describe(&e)
                )
            })?;
        if !released {
            tracing::warn!(database = %self.database, "BUG: the migration lock was not held at release");
        }
        Ok(())
    }
}

/// Runs `work` under the lock and releases it afterwards, whether `work` failed or not.
pub async fn with_lock<T>(
    conn: &mut PgConnection,
    timeout: Duration,
    work: impl AsyncFnOnce(&mut PgConnection) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let lock = acquire(conn, timeout).await?;
    let result = work(conn).await;
    let released = lock.release(conn).await;
    match (result, released) {
        (Ok(value), Ok(())) => Ok(value),
        (Err(e), _) | (Ok(_), Err(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_matches_sqlx_formula() {
        assert_eq!(CRC_IEEE.checksum(b"123456789"), 0xcbf4_3926);
        assert_eq!(
            key("postgres"),
            0x3d32_ad9e * i64::from(CRC_IEEE.checksum(b"postgres"))
        );
        assert!(key("any database name") > 0);
    }
}
