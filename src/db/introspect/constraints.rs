//! Table constraints (primary key, unique, foreign key, check, exclusion) and domain checks,
//! one query for both: `pg_get_constraintdef` text plus the parsed fields the diff needs.

use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::indexes::nulls_not_distinct;
use super::types::attach_domain_check;
use super::{Builder, USER_NAMESPACE, fetch_scoped, get};
use crate::core::schema::{
    Constraint, ConstraintKind, DomainCheck, FkAction, FkMatch, ForeignKey, QualifiedName,
};

pub(super) async fn load_constraints(
    conn: &mut PgConnection,
    b: &mut Builder,
    version: i32,
) -> anyhow::Result<()> {
    let sql = format!(
        "-- constraints: every constraint on a user table or domain, with its column names
        SELECT con.oid::int8 AS oid, con.conrelid::int8 AS relid, con.contypid::int8 AS typid,
               con.conname::text AS name, con.contype::text AS kind,
               pg_get_constraintdef(con.oid) AS definition,
               con.condeferrable AS deferrable, con.condeferred AS deferred,
               con.convalidated AS validated, con.contype = 'c' AND con.connoinherit AS no_inherit,
               con.conislocal AS is_local,
               (con.coninhcount > 0 OR con.conparentid <> 0) AS inherited,
               ARRAY(SELECT a.attname::text
                     FROM unnest(con.conkey) WITH ORDINALITY k(num, ord)
                     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
                     ORDER BY k.ord) AS columns,
               fn.nspname::text AS ref_schema, fc.relname::text AS ref_table,
               ARRAY(SELECT a.attname::text
                     FROM unnest(con.confkey) WITH ORDINALITY k(num, ord)
                     JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
                     ORDER BY k.ord) AS ref_columns,
               con.confupdtype::text AS on_update, con.confdeltype::text AS on_delete,
               con.confmatchtype::text AS match_type,
               ic.relname::text AS index_name,
               {nnd} AS nulls_not_distinct,
               d.description AS comment
        FROM pg_constraint con
        JOIN pg_namespace n ON n.oid = con.connamespace
        LEFT JOIN pg_class fc ON fc.oid = con.confrelid
        LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
        LEFT JOIN pg_class ic ON ic.oid = con.conindid AND con.contype IN ('p', 'u', 'x')
        LEFT JOIN pg_index i ON i.indexrelid = ic.oid
        LEFT JOIN pg_description d
          ON d.classoid = 'pg_constraint'::regclass AND d.objoid = con.oid AND d.objsubid = 0
        WHERE {USER_NAMESPACE} AND con.contype IN ('p', 'u', 'f', 'c', 'x')
          AND (con.conrelid = 0 OR {scope})",
        nnd = nulls_not_distinct(version, "i"),
        scope = b.in_scope("con.conrelid"),
    );
    for row in fetch_scoped(conn, b, "constraints", sql).await? {
        let relid: i64 = get(&row, "relid")?;
        if relid == 0 {
            let check = DomainCheck {
                name: get(&row, "name")?,
                definition: get(&row, "definition")?,
                validated: get(&row, "validated")?,
                comment: get(&row, "comment")?,
            };
            attach_domain_check(b, get(&row, "typid")?, check);
            continue;
        }
        let Some(table) = b.tables.get(&relid) else {
            continue;
        };
        let constraint = constraint(&row)?;
        let table = b.schema.tables.get_mut(table).expect("BUG: table map");
        table
            .constraints
            .insert(constraint.name.clone(), constraint);
    }
    Ok(())
}

fn constraint(row: &PgRow) -> anyhow::Result<Constraint> {
    let kind = match get::<String>(row, "kind")?.as_str() {
        "p" => ConstraintKind::PrimaryKey,
        "u" => ConstraintKind::Unique,
        "f" => ConstraintKind::ForeignKey,
        "x" => ConstraintKind::Exclusion,
        _ => ConstraintKind::Check,
    };
    let foreign_key = if kind == ConstraintKind::ForeignKey {
        Some(foreign_key(row)?)
    } else {
        None
    };
    Ok(Constraint {
        name: get(row, "name")?,
        kind,
        definition: get(row, "definition")?,
        columns: get(row, "columns")?,
        foreign_key,
        deferrable: get(row, "deferrable")?,
        initially_deferred: get(row, "deferred")?,
        validated: get(row, "validated")?,
        no_inherit: get(row, "no_inherit")?,
        nulls_not_distinct: get(row, "nulls_not_distinct")?,
        index: get(row, "index_name")?,
        is_local: get(row, "is_local")?,
        inherited: get(row, "inherited")?,
        comment: get(row, "comment")?,
    })
}

fn foreign_key(row: &PgRow) -> anyhow::Result<ForeignKey> {
    Ok(ForeignKey {
        table: QualifiedName::new(
            get::<Option<String>>(row, "ref_schema")?.unwrap_or_default(),
            get::<Option<String>>(row, "ref_table")?.unwrap_or_default(),
        ),
        columns: get(row, "ref_columns")?,
        on_update: action(&get::<String>(row, "on_update")?),
        on_delete: action(&get::<String>(row, "on_delete")?),
        match_type: match get::<String>(row, "match_type")?.as_str() {
            "f" => FkMatch::Full,
            "p" => FkMatch::Partial,
            _ => FkMatch::Simple,
        },
    })
}

/// `confupdtype` / `confdeltype` codes.
fn action(code: &str) -> FkAction {
    match code {
        "r" => FkAction::Restrict,
        "c" => FkAction::Cascade,
        "n" => FkAction::SetNull,
        "d" => FkAction::SetDefault,
        _ => FkAction::NoAction,
    }
}
