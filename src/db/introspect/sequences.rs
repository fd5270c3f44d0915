//! Sequences: free-standing ones (serial ones with their OWNED BY column) and the implicit
//! sequences of identity columns, which are attached to their column instead.

use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::{Builder, USER_NAMESPACE, fetch, get, get_name, not_extension_member};
use crate::core::schema::{Identity, IdentityGeneration, QualifiedName, Sequence, SequenceOptions};

pub(super) async fn load_sequences(conn: &mut PgConnection, b: &mut Builder) -> anyhow::Result<()> {
    if !b.present.sequences {
        return Ok(());
    }
    let sql = format!(
        "-- sequences: parameters, owning column (serial: deptype a, identity: deptype i)
        SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name,
               format_type(s.seqtypid, NULL) AS data_type, s.seqstart AS start,
               s.seqincrement AS increment, s.seqmin AS min_value, s.seqmax AS max_value,
               s.seqcache AS cache, s.seqcycle AS cycle, c.relpersistence = 'u' AS unlogged,
               dep.deptype::text AS dep_type, dep.refobjid::int8 AS owner,
               att.attname::text AS owner_column, att.attidentity::text AS identity,
               d.description AS comment
        FROM pg_sequence s
        JOIN pg_class c ON c.oid = s.seqrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_depend dep
          ON dep.classid = 'pg_class'::regclass AND dep.objid = c.oid
         AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')
        LEFT JOIN pg_attribute att ON att.attrelid = dep.refobjid AND att.attnum = dep.refobjsubid
        LEFT JOIN pg_description d
          ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid AND d.objsubid = 0
        WHERE {USER_NAMESPACE} AND {}",
        not_extension_member("pg_class", "c.oid")
    );
    for row in fetch(conn, "sequences", sql).await? {
        let name = get_name(&row, "schema", "name")?;
        let options = options(&row)?;
        let owner: Option<i64> = get(&row, "owner")?;
        let owner_table = owner.and_then(|oid| b.tables.get(&oid).cloned());
        if owner.is_some() && owner_table.is_none() {
            // Owned by a table we exclude (the tool's own, or an extension's).
            continue;
        }
        let column: Option<String> = get(&row, "owner_column")?;
        let owned_by = owner_table.zip(column);
        if get::<Option<String>>(&row, "dep_type")?.as_deref() == Some("i") {
            let generation = match get::<Option<String>>(&row, "identity")?.as_deref() {
                Some("a") => IdentityGeneration::Always,
                _ => IdentityGeneration::ByDefault,
            };
            attach_identity(b, owned_by, name, generation, options);
            continue;
        }
        b.sequences.insert(get(&row, "oid")?, name.clone());
        let sequence = Sequence {
            name: name.clone(),
            options,
            owned_by,
            unlogged: get(&row, "unlogged")?,
            comment: get(&row, "comment")?,
        };
        b.schema.sequences.insert(name, sequence);
    }
    Ok(())
}

fn options(row: &PgRow) -> anyhow::Result<SequenceOptions> {
    Ok(SequenceOptions {
        data_type: get(row, "data_type")?,
        start: get(row, "start")?,
        increment: get(row, "increment")?,
        min_value: get(row, "min_value")?,
        max_value: get(row, "max_value")?,
        cache: get(row, "cache")?,
        cycle: get(row, "cycle")?,
    })
}

fn attach_identity(
    b: &mut Builder,
    owned_by: Option<(QualifiedName, String)>,
    sequence: QualifiedName,
    generation: IdentityGeneration,
    options: SequenceOptions,
) {
    let Some((table, column)) = owned_by else {
        return;
    };
    let Some(table) = b.schema.tables.get_mut(&table) else {
        return;
    };
    if let Some(column) = table.columns.iter_mut().find(|c| c.name == column) {
        column.identity = Some(Identity {
            generation,
            sequence,
            options,
        });
    }
}
