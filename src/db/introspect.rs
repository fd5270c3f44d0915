//! Introspection: reads a live database into the schema model (`core::schema::Schema`) with
//! about a dozen bulk `pg_catalog` queries, one per object kind for the whole database (never
//! one per table), using the server's own renderers (`format_type`, `pg_get_expr`,
//! `pg_get_constraintdef`, `pg_get_indexdef`, `pg_get_viewdef`, `pg_get_functiondef`,
//! `pg_get_triggerdef`).
//!
//! Excluded: system schemas (`pg_catalog`, `information_schema`, `pg_toast*`, `pg_temp*`),
//! objects that belong to an extension (`pg_depend.deptype = 'e'`), and the tool's own
//! bookkeeping tables (`public._sqlx_migrations`, `public.migrated_events`, `_migrated_*`).
//! Child rows (columns, constraints, indexes, ...) are fetched per kind for the whole
//! database and attached by oid: a row whose relation was excluded is dropped.
//!
//! Runs no transaction of its own: a caller that needs a consistent snapshot (backup)
//! calls it inside its REPEATABLE READ transaction.

mod constraints;
mod depends;
mod functions;
mod indexes;
pub(crate) mod present;
mod relations;
mod sequences;
mod types;
mod unsupported;

use std::collections::{BTreeSet, HashMap};

use anyhow::Context as _;
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use crate::core::schema::{FunctionKey, ObjectRef, QualifiedName, Schema};

/// Schemas the server owns, as a condition on `pg_namespace n`.
pub(super) const USER_NAMESPACE: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";

/// The tool's own tables, as a condition on `pg_namespace n` / `pg_class c`.
pub(super) const NOT_TOOL_TABLE: &str = "NOT (n.nspname = 'public' AND c.relname IN ('_sqlx_migrations', 'migrated_events')) \
     AND c.relname NOT LIKE '\\_migrated\\_%'";

/// A condition excluding objects that are members of an extension. Written as `NOT IN` over
/// the extensions' dependents (found through pg_depend's index on the referenced object,
/// hashed once) rather than a per-row `NOT EXISTS`, which the planner turns into a scan of
/// the whole of pg_depend.
pub(super) fn not_extension_member(catalog: &str, oid: &str) -> String {
    format!(
        "{oid} NOT IN (SELECT ext.objid FROM pg_depend ext \
         WHERE ext.refclassid = 'pg_extension'::regclass AND ext.classid = '{catalog}'::regclass \
         AND ext.deptype = 'e')"
    )
}

/// A condition excluding objects that are members of an extension or internal parts of
/// another object (a range type's constructor functions and multirange casts).
fn not_extension_or_internal(catalog: &str, oid: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM pg_depend ext WHERE ext.classid = '{catalog}'::regclass \
         AND ext.objid = {oid} AND ext.deptype IN ('e', 'i'))"
    )
}

/// Reads the whole schema of the database `conn` is connected to.
///
/// Runs with an empty `search_path` (restored afterwards), as pg_dump does, so every name
/// the server renders in types, defaults and definitions is schema-qualified and the text
/// means the same in any session.
pub async fn introspect(conn: &mut PgConnection) -> anyhow::Result<Schema> {
    introspect_scope(conn, None, None).await
}

/// Reads the objects of every kind but tables and views in full, and only the tables and
/// views whose `pg_class` oid is in `relations` (with their columns, constraints, indexes,
/// triggers and policies): the partial read `db::snapshot` merges into an earlier schema.
/// References to relations outside the set (foreign keys, dependencies, owned sequences)
/// still resolve.
pub async fn introspect_relations(
    conn: &mut PgConnection,
    relations: &BTreeSet<i64>,
) -> anyhow::Result<Schema> {
    introspect_scope(conn, Some(relations), None).await
}

/// `introspect` (`scope` `None`) or `introspect_relations`, with the kinds present already
/// read (`present::load_present`) by a caller that needed them first.
pub(crate) async fn introspect_scope(
    conn: &mut PgConnection,
    scope: Option<&BTreeSet<i64>>,
    present: Option<present::Present>,
) -> anyhow::Result<Schema> {
    // Generic plans: a scoped query is planned once per connection, not once per scope
    // (catalog queries gain nothing from planning for the actual oids).
    let saved: (String, String) =
        sqlx::query_as("SELECT current_setting('search_path'), current_setting('plan_cache_mode')")
            .fetch_one(&mut *conn)
            .await
            .context("reading search_path")?;
    sqlx::query(
        "SELECT set_config('search_path', '', false), \
         set_config('plan_cache_mode', 'force_generic_plan', false)",
    )
    .execute(&mut *conn)
    .await
    .context("clearing search_path for introspection")?;
    let result = introspect_qualified(conn, scope, present).await;
    sqlx::query(
        "SELECT set_config('search_path', $1, false), set_config('plan_cache_mode', $2, false)",
    )
    .bind(&saved.0)
    .bind(&saved.1)
    .execute(&mut *conn)
    .await
    .context("restoring search_path after introspection")?;
    result
}

async fn introspect_qualified(
    conn: &mut PgConnection,
    scope: Option<&BTreeSet<i64>>,
    present: Option<present::Present>,
) -> anyhow::Result<Schema> {
    let version = server_version(conn).await?;
    let present = match present {
        Some(present) => present,
        None => present::load_present(conn).await?,
    };
    let mut b = Builder {
        scope: scope.cloned(),
        present,
        ..Builder::default()
    };
    types::load_schemas(conn, &mut b).await?;
    types::load_extensions(conn, &mut b).await?;
    types::load_types(conn, &mut b).await?;
    relations::load_relations(conn, &mut b).await?;
    relations::load_columns(conn, &mut b).await?;
    sequences::load_sequences(conn, &mut b).await?;
    constraints::load_constraints(conn, &mut b, version).await?;
    indexes::load_indexes(conn, &mut b, version).await?;
    functions::load_functions(conn, &mut b).await?;
    functions::load_triggers(conn, &mut b).await?;
    functions::load_policies(conn, &mut b).await?;
    depends::load_depends(conn, &mut b).await?;
    unsupported::load_unsupported(conn, &mut b, version).await?;
    b.drop_out_of_scope();
    Ok(b.schema)
}

/// `server_version_num`, e.g. 150018: some catalog columns only exist on newer servers.
async fn server_version(conn: &mut PgConnection) -> anyhow::Result<i32> {
    let text: String = sqlx::query_scalar("SELECT current_setting('server_version_num')")
        .fetch_one(conn)
        .await
        .context("reading the server version")?;
    text.parse()
        .with_context(|| format!("server_version_num {text:?} is not a number"))
}

/// The schema under construction plus oid lookups, so rows of later queries can be
/// attached to the objects of earlier ones.
#[derive(Default)]
struct Builder {
    schema: Schema,
    /// pg_class oid of a table.
    tables: HashMap<i64, QualifiedName>,
    /// pg_class oid of a view or materialized view.
    views: HashMap<i64, QualifiedName>,
    /// pg_class oid (`typrelid`) of a composite type.
    composite_relations: HashMap<i64, QualifiedName>,
    /// pg_type oid of an enum, domain or composite type.
    types: HashMap<i64, QualifiedName>,
    /// pg_class oid of a free-standing sequence.
    sequences: HashMap<i64, QualifiedName>,
    /// pg_proc oid of a function or procedure.
    functions: HashMap<i64, FunctionKey>,
    /// pg_extension oid.
    extensions: HashMap<i64, String>,
    /// The tables and views whose details are read (`None`: all of them). The oid maps
    /// above always cover every relation, so references resolve.
    scope: Option<BTreeSet<i64>>,
    /// The kinds of objects the database may hold: the query of a kind that is absent is
    /// not run.
    present: present::Present,
}

impl Builder {
    /// An SQL condition: the relation oid `expr` is in scope, the scope being parameter `$1`
    /// (`fetch_scoped` binds it), so that one statement serves every scope and a connection
    /// that reads again and again plans it once.
    fn in_scope(&self, expr: &str) -> String {
        match &self.scope {
            None => "TRUE".to_owned(),
            Some(_) => format!("{expr} = ANY($1::oid[])"),
        }
    }

    /// Whether the details of relation `oid` are read.
    fn reads(&self, oid: i64) -> bool {
        self.scope.as_ref().is_none_or(|oids| oids.contains(&oid))
    }

    /// Removes the tables and views outside the scope (and their triggers): they were only
    /// loaded so that references to them resolve.
    fn drop_out_of_scope(&mut self) {
        if self.scope.is_none() {
            return;
        }
        let outside: BTreeSet<QualifiedName> = self
            .tables
            .iter()
            .chain(&self.views)
            .filter(|(oid, _)| !self.reads(**oid))
            .map(|(_, name)| name.clone())
            .collect();
        self.schema.tables.retain(|name, _| !outside.contains(name));
        self.schema.views.retain(|name, _| !outside.contains(name));
        self.schema
            .triggers
            .retain(|key, _| !outside.contains(&key.table));
    }

    /// What a pg_class oid refers to, when it is an object the schema models.
    fn relation_ref(&self, oid: i64) -> Option<ObjectRef> {
        if let Some(name) = self.tables.get(&oid) {
            return Some(ObjectRef::Table(name.clone()));
        }
        if let Some(name) = self.views.get(&oid) {
            return Some(ObjectRef::View(name.clone()));
        }
        if let Some(name) = self.composite_relations.get(&oid) {
            return Some(ObjectRef::Type(name.clone()));
        }
        self.sequences
            .get(&oid)
            .map(|name| ObjectRef::Sequence(name.clone()))
    }
}

/// Runs one catalog query (built from constant fragments, no values) and returns its rows.
async fn fetch(conn: &mut PgConnection, what: &str, sql: String) -> anyhow::Result<Vec<PgRow>> {
    run(conn, what, sqlx::query(sqlx::AssertSqlSafe(sql))).await
}

/// As `fetch`, for a query whose condition is `Builder::in_scope`: binds the scope.
async fn fetch_scoped(
    conn: &mut PgConnection,
    b: &Builder,
    what: &str,
    sql: String,
) -> anyhow::Result<Vec<PgRow>> {
    let query = sqlx::query(sqlx::AssertSqlSafe(sql));
    let query = match &b.scope {
        Some(oids) => query.bind(oids.iter().copied().collect::<Vec<i64>>()),
        None => query,
    };
    run(conn, what, query).await
}

async fn run(
    conn: &mut PgConnection,
    what: &str,
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> anyhow::Result<Vec<PgRow>> {
    let start = std::time::Instant::now();
    let rows = query
        .fetch_all(conn)
        .await
        .with_context(|| format!("reading {what} from pg_catalog"))?;
    tracing::debug!(
        what,
        rows = rows.len(),
        elapsed_ms = start.elapsed().as_millis(),
        "introspection query"
    );
    Ok(rows)
}

/// A column of a catalog row, with the column's name in the error.
fn get<'r, T>(row: &'r PgRow, column: &str) -> anyhow::Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    use sqlx::Row as _;
    row.try_get(column)
        .with_context(|| format!("BUG: decoding catalog column {column}"))
}

/// A schema-qualified name from two columns.
fn get_name(row: &PgRow, schema: &str, name: &str) -> anyhow::Result<QualifiedName> {
    Ok(QualifiedName::new(
        get::<String>(row, schema)?,
        get::<String>(row, name)?,
    ))
}
