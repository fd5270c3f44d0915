//! Which of the less common kinds of objects a database may hold, in one cheap query, so
//! that introspection skips the queries of the kinds it does not, and the relation digests
//! (`db::snapshot`) the parts that would add no row. A new session pays for planning each
//! catalog query once (1-2 ms for most, 8 for the unsupported kinds' union), and a generate
//! at 100 tables opens two.
//!
//! Every test is a superset of what the kind's query reads: objects made after initdb have
//! oids from 16384 (FirstNormalObjectId), and every object in a user schema is one. A kind
//! found present runs its query, which applies the exact conditions (user schemas, no
//! extension members); a skipped query is one that would have returned no rows. The tool's
//! own tables, which introspection leaves out, do not count.

use sqlx::PgConnection;

use super::{NOT_TOOL_TABLE, fetch, get, unsupported};

/// The tool's own tables (`c`), which introspection leaves out: their sequences and
/// comments (the desired shadow's bookkeeping has both) do not make a kind present.
fn tool_tables() -> String {
    format!("pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT ({NOT_TOOL_TABLE})")
}

/// Per kind, whether the database may hold an object of it (`Default`: all of them).
#[derive(Debug, Clone)]
pub(crate) struct Present {
    /// Enums, domains and composite types.
    pub(crate) types: bool,
    pub(crate) sequences: bool,
    pub(crate) functions: bool,
    /// User (not internal) triggers.
    pub(crate) triggers: bool,
    pub(crate) policies: bool,
    /// Partitions and inheritance children (of tables and of indexes).
    pub(crate) inheritance: bool,
    /// Partitioned tables.
    pub(crate) partitioned: bool,
    /// Rewrite rules of user relations: views' and the user's own rules.
    pub(crate) rewrites: bool,
    /// Comments on user objects.
    pub(crate) comments: bool,
    /// Per branch of the unsupported kinds' query (`unsupported::BRANCHES`).
    pub(crate) unsupported: Vec<bool>,
}

impl Default for Present {
    fn default() -> Self {
        Present {
            types: true,
            sequences: true,
            functions: true,
            triggers: true,
            policies: true,
            inheritance: true,
            partitioned: true,
            rewrites: true,
            comments: true,
            unsupported: vec![true; unsupported::BRANCHES.len()],
        }
    }
}

pub(crate) async fn load_present(conn: &mut PgConnection) -> anyhow::Result<Present> {
    // Sequences owned by the tool's tables.
    let tool_owned = format!(
        "pg_depend dep WHERE dep.classid = 'pg_class'::regclass \
         AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i') \
         AND dep.refobjid IN (SELECT c.oid FROM {})",
        tool_tables()
    );
    let sql = format!(
        "-- kinds present: whether the database may hold objects of each less common kind
        SELECT EXISTS (SELECT FROM pg_type t WHERE t.oid >= 16384 AND t.typtype IN ('e', 'd'))
                 OR EXISTS (SELECT FROM pg_class c WHERE c.oid >= 16384 AND c.relkind = 'c')
                 AS types,
               EXISTS (SELECT FROM pg_sequence s WHERE s.seqrelid >= 16384
                         AND s.seqrelid NOT IN (SELECT dep.objid FROM {tool_owned})) AS sequences,
               EXISTS (SELECT FROM pg_proc p WHERE p.oid >= 16384) AS functions,
               EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid >= 16384 AND NOT t.tgisinternal)
                 AS triggers,
               EXISTS (SELECT FROM pg_policy) AS policies,
               EXISTS (SELECT FROM pg_inherits) AS inheritance,
               EXISTS (SELECT FROM pg_partitioned_table) AS partitioned,
               EXISTS (SELECT FROM pg_rewrite r WHERE r.ev_class >= 16384) AS rewrites,
               EXISTS (SELECT FROM pg_description d WHERE d.objoid >= 16384
                         AND NOT (d.classoid = 'pg_class'::regclass
                                  AND d.objoid IN (SELECT c.oid FROM {tool_tables}))) AS comments,
               ARRAY[{}] AS unsupported",
        unsupported::BRANCHES
            .iter()
            .map(|(gate, _)| *gate)
            .collect::<Vec<_>>()
            .join(",\n                     "),
        tool_tables = tool_tables(),
        tool_owned = tool_owned,
    );
    let rows = fetch(conn, "kinds present", sql).await?;
    let row = rows
        .first()
        .ok_or_else(|| anyhow::anyhow!("BUG: the kinds-present query returned no row"))?;
    Ok(Present {
        types: get(row, "types")?,
        sequences: get(row, "sequences")?,
        functions: get(row, "functions")?,
        triggers: get(row, "triggers")?,
        policies: get(row, "policies")?,
        inheritance: get(row, "inheritance")?,
        partitioned: get(row, "partitioned")?,
        rewrites: get(row, "rewrites")?,
        comments: get(row, "comments")?,
        unsupported: get(row, "unsupported")?,
    })
}
