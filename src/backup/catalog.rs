//! The data-specific catalog facts a backup needs beside the engine's schema model: which
//! tables hold rows to dump (and in which column order), sequence positions, and contents
//! that no backup of ours captures.
//!
//! Reads `pg_class`, `pg_namespace`, `pg_attribute`, `pg_depend`, `pg_sequences` and
//! `pg_largeobject_metadata`, always inside the backup's snapshot transaction. It renders no
//! DDL: the schema itself comes from the engine (`core::ddl::dump_ddl`).

use anyhow::Context as _;
use sqlx::PgConnection;

/// Schemas whose contents are never the user's: the system catalogs, toast and temp schemas.
pub(crate) const SYSTEM_SCHEMA_FILTER: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'";

/// The shadow databases' bookkeeping tables (`_migrated_*`): never part of a backup. The
/// migration history (`_sqlx_migrations`, `migrated_events`) is, with the runner's DDL.
pub(crate) const BOOKKEEPING_FILTER: &str =
    "NOT (n.nspname = 'public' AND c.relname LIKE '\\_migrated\\_%')";

/// One table whose rows are dumped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataTable {
    pub schema: String,
    pub name: String,
    /// Stored columns in attribute order; generated columns are left out (the server
    /// recomputes them).
    pub columns: Vec<String>,
    /// On-disk size (TOAST included), for scheduling the largest tables first.
    pub size_bytes: i64,
    /// Heap blocks, for splitting a large table into block ranges.
    pub pages: i64,
}

/// One sequence's position, as `setval` needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceValue {
    pub schema: String,
    pub name: String,
    /// `Some((schema, table, column))` for an identity column's sequence: its name is chosen
    /// by the server on restore, so `setval` finds it with `pg_get_serial_sequence`.
    pub identity: Option<(String, String, String)>,
    pub value: i64,
    pub is_called: bool,
}

/// Ordinary tables (partitions included, partitioned parents hold no rows) outside the
/// system schemas, not owned by an extension, not the shadow's bookkeeping tables; the
/// largest first (then by name): the order `pieces::interleave` deals them out to the
/// restore's connections in, so the longest loads (and the index builds that wait for
/// them) start first, as in pg_restore.
pub async fn data_tables(conn: &mut PgConnection) -> anyhow::Result<Vec<DataTable>> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text,
                coalesce(array_agg(a.attname::text ORDER BY a.attnum)
                         FILTER (WHERE a.attnum IS NOT NULL), '{{}}'),
                coalesce(pg_table_size(c.oid), 0)::int8,
                coalesce(pg_relation_size(c.oid)
                         / current_setting('block_size')::int8, 0)::int8
           FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                AND NOT a.attisdropped AND a.attgenerated = ''
          WHERE c.relkind = 'r' AND {SYSTEM_SCHEMA_FILTER} AND {BOOKKEEPING_FILTER}
            AND NOT EXISTS (SELECT 1 FROM pg_depend d
                             WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                               AND d.deptype = 'e')
          GROUP BY n.nspname, c.relname, c.oid
          ORDER BY 4 DESC, 1, 2"
    );
    let rows: Vec<(String, String, Vec<String>, i64, i64)> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(conn)
            .await
            .context("listing the tables to back up")?;
    Ok(rows
        .into_iter()
        .map(|(schema, name, columns, size_bytes, pages)| DataTable {
            schema,
            name,
            columns,
            size_bytes,
            pages,
        })
        .collect())
}

/// Every user sequence's position (identity sequences included), in name order.
pub async fn sequence_values(conn: &mut PgConnection) -> anyhow::Result<Vec<SequenceValue>> {
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        bool,
    );
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text,
                tn.nspname::text, t.relname::text, a.attname::text,
                coalesce(s.last_value, s.start_value)::int8, s.last_value IS NOT NULL
           FROM pg_sequences s
           JOIN pg_namespace n ON n.nspname = s.schemaname
           JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.sequencename
           LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
                AND d.refclassid = 'pg_class'::regclass AND d.deptype = 'i'
           LEFT JOIN pg_class t ON t.oid = d.refobjid
           LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace
           LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
          WHERE {SYSTEM_SCHEMA_FILTER}
            AND NOT EXISTS (SELECT 1 FROM pg_depend e
                             WHERE e.classid = 'pg_class'::regclass AND e.objid = c.oid
                               AND e.deptype = 'e')
          ORDER BY 1, 2"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await
        .context("reading sequence positions")?;
    Ok(rows
        .into_iter()
        .map(
            |(schema, name, tschema, table, column, value, is_called)| SequenceValue {
                schema,
                name,
                identity: tschema.zip(table).zip(column).map(|((s, t), c)| (s, t, c)),
                value,
                is_called,
            },
        )
        .collect())
}

/// Contents that a backup of ours does not capture, detected here rather than by the engine
/// (which models schema objects, not contents): large objects.
pub async fn uncaptured_contents(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    let large_objects: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_largeobject_metadata")
        .fetch_one(conn)
        .await
        .context("counting large objects")?;
    Ok(if large_objects > 0 {
        vec![format!("large objects ({large_objects})")]
    } else {
        Vec::new()
    })
}
