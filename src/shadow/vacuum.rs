//! Vacuuming a shadow: every pass leaves dead catalog rows behind (a model statement dropped
//! and run again, verification's transactions rolled back), and each snapshot's digests scan
//! whole catalogs. Without autovacuum (some servers run without it, and its naptime is a
//! minute anyway) they pile up: after the first `generate` of 100 tables the head shadow's
//! pg_attribute held 3,300 dead rows, and after some forty one-column `generate`s the same
//! binaries took 255-304 ms (medians) where a vacuumed pair of shadows took 186-212. Best
//! effort: a failure is logged, never an error.

use std::time::Instant;

use sqlx::PgConnection;

use super::{describe, execute};

/// Tables to vacuum: the catalogs DDL writes and the snapshots' queries scan, and the tool's
/// bookkeeping tables, when their dead rows exceed autovacuum's default threshold (50 plus a
/// fifth of the live rows). `pg_stat_get_*` read the statistics the server collects
/// (`track_counts`, on by default); a server without them never vacuums. A fixed list rather
/// than a scan of pg_class: the check runs at the end of every pass, and a new backend plans
/// this in a third of the time.
const DUE: &str = "-- tables to vacuum: catalogs and bookkeeping tables with many dead rows
    SELECT t::text FROM unnest($1::text[]) AS name, to_regclass(name) AS t
    WHERE pg_stat_get_dead_tuples(t) > 50 + 0.2 * pg_stat_get_live_tuples(t)";

/// The tables `DUE` looks at.
const TABLES: [&str; 19] = [
    "pg_catalog.pg_attribute",
    "pg_catalog.pg_attrdef",
    "pg_catalog.pg_class",
    "pg_catalog.pg_constraint",
    "pg_catalog.pg_depend",
    "pg_catalog.pg_description",
    "pg_catalog.pg_enum",
    "pg_catalog.pg_index",
    "pg_catalog.pg_inherits",
    "pg_catalog.pg_partitioned_table",
    "pg_catalog.pg_policy",
    "pg_catalog.pg_proc",
    "pg_catalog.pg_rewrite",
    "pg_catalog.pg_sequence",
    "pg_catalog.pg_trigger",
    "pg_catalog.pg_type",
    "public._migrated_shadow",
    "public._migrated_schema_cache",
    "public._sqlx_migrations",
];

/// Vacuums the tables of the shadow `conn` is connected to that have many dead rows
/// (`DUE`); says whether the connection is still usable.
pub(super) async fn vacuum(conn: &mut PgConnection, shadow: &str) -> bool {
    let clock = Instant::now();
    match vacuum_due(conn).await {
        Ok(tables) => {
            if !tables.is_empty() {
                tracing::debug!(
                    shadow,
                    ?tables,
                    elapsed_ms = clock.elapsed().as_millis(),
                    "vacuumed"
                );
            }
            true
        }
        Err(e) => {
            tracing::debug!(shadow, error = %describe(&e), "not vacuumed");
            false
        }
    }
}

/// Vacuums the tables `DUE` lists, in one statement; returns their names.
async fn vacuum_due(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let tables: Vec<String> = sqlx::query_scalar(DUE)
        .bind(TABLES)
        .fetch_all(&mut *conn)
        .await?;
    if !tables.is_empty() {
        execute(conn, &format!("VACUUM {}", tables.join(", "))).await?;
    }
    Ok(tables)
}
