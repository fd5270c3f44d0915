//! The shadows' schema cache: snapshots (`db::snapshot`: the introspected schema with its
//! digests) kept in the shadow they describe (`public._migrated_schema_cache`, which
//! introspection ignores), so a pass does not read a shadow's whole schema again.
//!
//! In the head shadow an entry's key names exactly which migrations it holds (`key`): a pass
//! whose committed migrations did not change, or only gained the one the previous `generate`
//! wrote and verified, uses it as is. Otherwise, and always in the desired shadow (whose
//! contents change with every model edit), the newest entry is the base of an incremental
//! read (`db::snapshot::since`), which trusts nothing but the catalog's digests.
//!
//! The key is a SHA-256 of the cache format, the tool version and every committed
//! migration's version and checksum; an entry is also bound to the server's version (its
//! renderers decide the schema's text). A shadow that is rebuilt loses its cache with it.
//! Entries are MessagePack (`rmp-serde`, binary: names keep their parts); only the newest
//! few are kept. Any failure to read or write the cache is a miss, never an error: the caller
//! introspects.

use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;

use crate::core::migration::MigrationSet;
use crate::db::snapshot::Snapshot;

/// Bump when the cached data's meaning changes (older entries then never match).
const FORMAT: &str = "migrated schema cache v4";

/// The key of the desired shadow's one entry (always read incrementally).
pub const DESIRED: &str = "desired";

/// Entries kept: the current head state and the one a just-written migration leads to.
const KEEP: i64 = 4;

/// The key of the head state that replaying `set` gives.
pub fn key(set: &MigrationSet) -> String {
    let mut hash = Sha256::new();
    hash.update(FORMAT.as_bytes());
    hash.update(env!("CARGO_PKG_VERSION").as_bytes());
    for migration in set.iter() {
        hash.update(migration.version.to_le_bytes());
        hash.update(&migration.up.checksum);
    }
    hex::encode(hash.finalize())
}

/// The key under which a snapshot of `key`'s state is stored before that state exists: what
/// verification read after the up script of a migration just written, inside a transaction
/// it rolled back. Its schema is that state's, but objects the migration created had other
/// oids there than the replay gives them, so its digests may not match the head shadow:
/// as a base for incremental reads it can cost a full read until it is settled (read
/// incrementally once after the replay and stored under `key`).
pub fn predicted(key: &str) -> String {
    format!("predicted:{key}")
}

/// A snapshot in the cache's format.
pub fn encode(snapshot: &Snapshot) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    rmp_serde::to_vec(snapshot)
}

/// A snapshot back from the cache's format.
pub fn decode(bytes: &[u8]) -> Result<Snapshot, rmp_serde::decode::Error> {
    rmp_serde::from_slice(bytes)
}

/// The cached snapshot under `key`, if there is one for this server version.
pub async fn load(conn: &mut PgConnection, key: &str) -> Option<Snapshot> {
    fetch(
        conn,
        sqlx::query_scalar(
            "SELECT schema FROM public._migrated_schema_cache \
             WHERE key = $1 AND server = current_setting('server_version_num')",
        )
        .bind(key),
    )
    .await
}

/// The newest cached snapshot of this server version, whatever state it describes: a base
/// for `db::snapshot::since`.
pub async fn newest(conn: &mut PgConnection) -> Option<Snapshot> {
    fetch(
        conn,
        sqlx::query_scalar(
            "SELECT schema FROM public._migrated_schema_cache \
             WHERE server = current_setting('server_version_num') ORDER BY seq DESC LIMIT 1",
        ),
    )
    .await
}

async fn fetch(
    conn: &mut PgConnection,
    query: sqlx::query::QueryScalar<'_, sqlx::Postgres, Vec<u8>, sqlx::postgres::PgArguments>,
) -> Option<Snapshot> {
    // The table may not exist yet: that is a miss like any other failure.
    let found = query.fetch_optional(&mut *conn).await.ok().flatten()?;
    let snapshot = decode(&found);
    if let Err(err) = &snapshot {
        tracing::debug!(%err, "schema cache entry unreadable; introspecting");
    }
    snapshot.ok()
}

/// Stores `snapshot` under `key` and drops all but the newest entries. Best effort: a
/// failure is logged at debug level and otherwise ignored.
pub async fn store(conn: &mut PgConnection, key: &str, snapshot: &Snapshot) {
    if let Err(err) = try_store(conn, key, snapshot).await {
        tracing::debug!(err = %format!("{err:#}"), "schema cache not written");
    }
}

async fn try_store(conn: &mut PgConnection, key: &str, snapshot: &Snapshot) -> anyhow::Result<()> {
    let bytes = encode(snapshot)?;
    let exists: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('public._migrated_schema_cache')::text")
            .fetch_one(&mut *conn)
            .await?;
    if exists.is_none() {
        crate::shadow::execute(
            conn,
            "CREATE TABLE IF NOT EXISTS public._migrated_schema_cache (seq bigserial PRIMARY KEY, \
             key text NOT NULL UNIQUE, server text NOT NULL, schema bytea NOT NULL)",
        )
        .await?;
        // lz4 stores an entry (1.3 MB at 1000 tables) in 2 ms where the default pglz took
        // 15, on the critical path of every generate. PostgreSQL before 14, or built without
        // lz4, refuses: the entries are then compressed the default way.
        let _ = crate::shadow::execute(
            conn,
            "ALTER TABLE public._migrated_schema_cache ALTER COLUMN schema SET COMPRESSION lz4",
        )
        .await;
    }
    sqlx::query(
        "INSERT INTO public._migrated_schema_cache (key, server, schema) \
         VALUES ($1, current_setting('server_version_num'), $2) \
         ON CONFLICT (key) DO UPDATE SET seq = nextval(pg_get_serial_sequence('public._migrated_schema_cache', 'seq')), \
         server = excluded.server, schema = excluded.schema",
    )
    .bind(key)
    .bind(&bytes)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "DELETE FROM public._migrated_schema_cache WHERE seq <= (SELECT max(seq) FROM public._migrated_schema_cache) - $1",
    )
    .bind(KEEP)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
