//! The schema part of a backup, from the engine: `db::introspect::introspect` on the
//! snapshot connection, rendered by `core::ddl::dump_ddl` into pre-data (objects, before the
//! rows) and post-data (keys, indexes, constraints, triggers, policies, materialized view
//! refreshes, after them). No DDL is rendered here.

use super::catalog::DataTable;
use super::snapshot::Leader;
use crate::core::ddl::dump_ddl;
use crate::db::introspect::introspect;
use crate::db::{events, history};

/// The schema DDL of the snapshot, split as pg_dump splits it.
#[derive(Debug, Default)]
pub struct SchemaDdl {
    pub pre_data: Vec<String>,
    pub post_data: Vec<String>,
    /// Objects the engine cannot model and cannot render (`kind name`): not captured.
    pub unsupported: Vec<String>,
}

/// Reads the schema inside the leader's snapshot; `tables` are the tables whose rows the
/// backup holds (the migration history among them needs the runner's DDL).
pub async fn schema_ddl(leader: &mut Leader, tables: &[DataTable]) -> anyhow::Result<SchemaDdl> {
    let schema = introspect(&mut leader.conn).await?;
    let mut ddl = dump_ddl(&schema);
    ddl.pre_data.extend(history_ddl(tables));
    // Unsupported objects with a complete `ddl` are part of `dump_ddl`'s output.
    let unsupported = schema
        .unsupported
        .iter()
        .filter(|u| u.ddl.is_none())
        .map(|u| format!("{} {}", u.kind, u.name))
        .collect();
    Ok(SchemaDdl {
        pre_data: ddl.pre_data,
        post_data: ddl.post_data,
        unsupported,
    })
}

/// The migration history tables (which introspection leaves out of the model), created
/// with the runner's own DDL so that a restored database knows which migrations it holds.
fn history_ddl(tables: &[DataTable]) -> Vec<String> {
    let present = |name: &str| {
        tables
            .iter()
            .any(|t| t.schema == "public" && t.name == name)
    };
    let creates: Vec<String> = [
        (history::TABLE, history::CREATE),
        (events::TABLE, events::CREATE),
    ]
    .into_iter()
    .filter(|(name, _)| present(name))
    .map(|(_, create)| create.to_owned())
    .collect();
    if creates.is_empty() {
        return creates;
    }
    // The runner's DDL names its tables unqualified, in `public`.
    let mut out = vec!["SELECT pg_catalog.set_config('search_path', 'public', false)".to_owned()];
    out.extend(creates);
    out.push("SELECT pg_catalog.set_config('search_path', '', false)".to_owned());
    out
}
