//! The head shadow's schema cache: the introspected head state, kept in the head shadow
//! itself (`public._migrated_schema_cache`) under a key naming exactly which migrations it
//! holds, so a generate or watcher pass whose committed migrations did not change (or only
//! gained the one the previous `generate` wrote and verified) does not introspect the head
//! shadow again.
//!
//! The key is a SHA-256 of the cache format, the tool version and every committed
//! migration's version and checksum; an entry is also bound to the server's version (its
//! renderers decide the schema's text). The head shadow is dropped and rebuilt whenever its
//! migrations stop being a prefix of the directory, and the cache with it. Entries are the
//! schema in MessagePack (`rmp-serde`, binary: names keep their parts). Only the newest few
//! are kept. Any failure to read or write the cache is a miss, never an error: the caller
//! introspects.

use sha2::{Digest as _, Sha256};
use sqlx::PgConnection;

use crate::core::migration::MigrationSet;
use crate::core::schema::Schema;

/// Bump when the cached data's meaning changes (older entries then never match).
const FORMAT: &str = "migrated schema cache v1";

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

/// A schema in the cache's format.
pub fn encode(schema: &Schema) -> Result<Vec<u8>, rmp_serde::encode::Error> {
    rmp_serde::to_vec(schema)
}

/// A schema back from the cache's format.
pub fn decode(bytes: &[u8]) -> Result<Schema, rmp_serde::decode::Error> {
    rmp_serde::from_slice(bytes)
}

/// The cached schema under `key`, if there is one for this server version.
pub async fn load(conn: &mut PgConnection, key: &str) -> Option<Schema> {
    // The table may not exist yet: that is a miss like any other failure.
    let found: Option<Vec<u8>> = sqlx::query_scalar(
        "SELECT schema FROM public._migrated_schema_cache \
         WHERE key = $1 AND server = current_setting('server_version_num')",
    )
    .bind(key)
    .fetch_optional(&mut *conn)
    .await
    .ok()
    .flatten();
    let schema = decode(&found?);
    if let Err(err) = &schema {
        tracing::debug!(%err, "schema cache entry unreadable; introspecting");
    }
    schema.ok()
}

/// Stores `schema` under `key` and drops all but the newest entries. Best effort: a failure
/// is logged at debug level and otherwise ignored.
pub async fn store(conn: &mut PgConnection, key: &str, schema: &Schema) {
    if let Err(err) = try_store(conn, key, schema).await {
        tracing::debug!(err = %format!("{err:#}"), "schema cache not written");
    }
}

async fn try_store(conn: &mut PgConnection, key: &str, schema: &Schema) -> anyhow::Result<()> {
    let bytes = encode(schema)?;
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
