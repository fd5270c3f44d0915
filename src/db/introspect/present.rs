//! Which of the less common kinds of objects a database may hold, in one cheap query, so
//! that introspection skips the queries of the kinds it does not. A new session pays for
//! planning each catalog query once (1-2 ms for most, 8 for the unsupported kinds' union),
//! and a generate at 100 tables opens two.
//!
//! Every test is a superset of what the kind's query reads: objects made after initdb have
//! oids from 16384 (FirstNormalObjectId), and every object in a user schema is one. A kind
//! found present runs its query, which applies the exact conditions (user schemas, no
//! extension members); a skipped query is one that would have returned no rows.

use sqlx::PgConnection;

use super::{fetch, get, unsupported};

/// Per kind, whether the database may hold an object of it (`Default`: all of them).
#[derive(Debug, Clone)]
pub(super) struct Present {
    /// Enums, domains and composite types.
    pub types: bool,
    pub sequences: bool,
    pub functions: bool,
    /// User (not internal) triggers.
    pub triggers: bool,
    pub policies: bool,
    /// Partitions and inheritance children.
    pub inheritance: bool,
    /// Per branch of the unsupported kinds' query (`unsupported::GATES`).
    pub unsupported: Vec<bool>,
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
            unsupported: vec![true; unsupported::GATES.len()],
        }
    }
}

pub(super) async fn load_present(conn: &mut PgConnection) -> anyhow::Result<Present> {
    let sql = format!(
        "-- kinds present: whether the database may hold objects of each less common kind
        SELECT EXISTS (SELECT FROM pg_type t WHERE t.oid >= 16384 AND t.typtype IN ('e', 'd'))
                 OR EXISTS (SELECT FROM pg_class c WHERE c.oid >= 16384 AND c.relkind = 'c')
                 AS types,
               EXISTS (SELECT FROM pg_sequence s WHERE s.seqrelid >= 16384) AS sequences,
               EXISTS (SELECT FROM pg_proc p WHERE p.oid >= 16384) AS functions,
               EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid >= 16384 AND NOT t.tgisinternal)
                 AS triggers,
               EXISTS (SELECT FROM pg_policy) AS policies,
               EXISTS (SELECT FROM pg_inherits) AS inheritance,
               ARRAY[{}] AS unsupported",
        unsupported::GATES.join(",\n                     ")
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
        unsupported: get(row, "unsupported")?,
    })
}
