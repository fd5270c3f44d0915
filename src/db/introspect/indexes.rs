//! Indexes of tables and materialized views: `pg_get_indexdef` text plus keys, method,
//! opclasses, ordering, INCLUDE columns, predicate, the constraint backed, and the parent
//! index a partition's index is attached to.

use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::{Builder, USER_NAMESPACE, fetch_scoped, get};
use crate::core::schema::{Index, IndexKey, QualifiedName};

/// `indnullsnotdistinct` as a column expression: the column exists from PostgreSQL 15.
pub(super) fn nulls_not_distinct(version: i32, index_alias: &str) -> String {
    if version >= 150_000 {
        format!("coalesce({index_alias}.indnullsnotdistinct, false)")
    } else {
        "false".to_owned()
    }
}

pub(super) async fn load_indexes(
    conn: &mut PgConnection,
    b: &mut Builder,
    version: i32,
) -> anyhow::Result<()> {
    let sql = format!(
        "-- indexes: every index on a user table or materialized view, key by key
        SELECT i.indrelid::int8 AS relid, ic.relname::text AS name,
               pg_get_indexdef(i.indexrelid) AS definition,
               i.indisunique AS is_unique, i.indisprimary AS is_primary,
               am.amname::text AS method, i.indnkeyatts::int4 AS key_count,
               ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
                     FROM generate_series(1, i.indnatts) k ORDER BY k) AS keys,
               i.indkey::text AS key_attnums, i.indoption::text AS key_options,
               ARRAY(SELECT CASE WHEN oc.opcdefault THEN '' ELSE
                              CASE WHEN ocn.nspname = 'pg_catalog' THEN oc.opcname::text
                                   ELSE ocn.nspname::text || '.' || oc.opcname::text END END
                     FROM unnest(i.indclass::oid[]) WITH ORDINALITY k(opc, ord)
                     JOIN pg_opclass oc ON oc.oid = k.opc
                     JOIN pg_namespace ocn ON ocn.oid = oc.opcnamespace
                     ORDER BY k.ord) AS opclasses,
               pg_get_expr(i.indpred, i.indrelid) AS predicate,
               {nnd} AS nulls_not_distinct,
               con.conname::text AS constraint_name,
               pn.nspname::text AS parent_schema, pc.relname::text AS parent_name,
               d.description AS comment
        FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_namespace n ON n.oid = ic.relnamespace
        JOIN pg_am am ON am.oid = ic.relam
        LEFT JOIN pg_constraint con
          ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
         AND con.contype IN ('p', 'u', 'x')
        LEFT JOIN pg_inherits inh ON inh.inhrelid = i.indexrelid
        LEFT JOIN pg_class pc ON pc.oid = inh.inhparent
        LEFT JOIN pg_namespace pn ON pn.oid = pc.relnamespace
        LEFT JOIN pg_description d
          ON d.classoid = 'pg_class'::regclass AND d.objoid = i.indexrelid AND d.objsubid = 0
        WHERE {USER_NAMESPACE} AND {scope}",
        nnd = nulls_not_distinct(version, "i"),
        scope = b.in_scope("i.indrelid"),
    );
    for row in fetch_scoped(conn, b, "indexes", sql).await? {
        let relid: i64 = get(&row, "relid")?;
        let index = index(&row)?;
        if let Some(name) = b.tables.get(&relid) {
            let table = b.schema.tables.get_mut(name).expect("BUG: table map");
            table.indexes.insert(index.name.clone(), index);
        } else if let Some(name) = b.views.get(&relid) {
            let view = b.schema.views.get_mut(name).expect("BUG: view map");
            view.indexes.insert(index.name.clone(), index);
        }
    }
    Ok(())
}

fn index(row: &PgRow) -> anyhow::Result<Index> {
    let key_count = usize::try_from(get::<i32>(row, "key_count")?).unwrap_or(0);
    let mut all: Vec<String> = get(row, "keys")?;
    let include = all.split_off(key_count.min(all.len()));
    let attnums = numbers(&get::<String>(row, "key_attnums")?);
    let options = numbers(&get::<String>(row, "key_options")?);
    let opclasses: Vec<String> = get(row, "opclasses")?;
    let keys = all
        .into_iter()
        .enumerate()
        .map(|(k, expression)| {
            let option = options.get(k).copied().unwrap_or(0);
            IndexKey {
                expression,
                is_column: attnums.get(k).copied().unwrap_or(0) != 0,
                opclass: opclasses.get(k).filter(|o| !o.is_empty()).cloned(),
                descending: option & 1 != 0,
                nulls_first: option & 2 != 0,
            }
        })
        .collect();
    let parent_schema: Option<String> = get(row, "parent_schema")?;
    let parent_name: Option<String> = get(row, "parent_name")?;
    Ok(Index {
        name: get(row, "name")?,
        definition: get(row, "definition")?,
        unique: get(row, "is_unique")?,
        primary: get(row, "is_primary")?,
        method: get(row, "method")?,
        keys,
        include,
        predicate: get(row, "predicate")?,
        nulls_not_distinct: get(row, "nulls_not_distinct")?,
        constraint: get(row, "constraint_name")?,
        parent_index: parent_schema
            .zip(parent_name)
            .map(|(s, n)| QualifiedName::new(s, n)),
        comment: get(row, "comment")?,
    })
}

/// An `int2vector` read through text: `"1 3 0"`.
fn numbers(text: &str) -> Vec<i64> {
    text.split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_reads_int2vector_text() {
        assert_eq!(numbers("1 3 0"), [1, 3, 0]);
        assert!(numbers("").is_empty());
    }

    #[test]
    fn nulls_not_distinct_is_false_before_15() {
        assert_eq!(nulls_not_distinct(140_000, "i"), "false");
        assert!(nulls_not_distinct(150_018, "i").contains("indnullsnotdistinct"));
    }
}
