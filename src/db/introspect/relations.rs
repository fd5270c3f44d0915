//! Tables (ordinary, partitioned, partitions, inheritance children), views and
//! materialized views, and the columns of all of them plus composite-type attributes.

use std::collections::BTreeMap;

use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::types::collation;
use super::{
    Builder, NOT_TOOL_TABLE, USER_NAMESPACE, fetch, fetch_scoped, get, get_name,
    not_extension_member,
};
use crate::core::schema::{Column, CompositeAttribute, PartitionOf, QualifiedName, Table, View};

/// Tables, views and materialized views, then the inheritance links between tables.
pub(super) async fn load_relations(conn: &mut PgConnection, b: &mut Builder) -> anyhow::Result<()> {
    let sql = format!(
        "-- relations: tables, partitioned tables, views and materialized views in user schemas
        SELECT c.oid::int8 AS oid, n.nspname::text AS schema, c.relname::text AS name,
               c.relkind::text AS kind, c.relpersistence = 'u' AS unlogged,
               c.relrowsecurity AS rls_enabled, c.relforcerowsecurity AS rls_forced,
               coalesce(c.reloptions::text[], '{{}}') AS options,
               CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
               CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound,
               coalesce(CASE WHEN c.relkind IN ('v', 'm') AND {scope}
                             THEN pg_get_viewdef(c.oid, true) END, '') AS view_def,
               d.description AS comment
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_description d
          ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid AND d.objsubid = 0
        WHERE c.relkind IN ('r', 'p', 'v', 'm') AND {USER_NAMESPACE} AND {NOT_TOOL_TABLE}
          AND {}",
        not_extension_member("pg_class", "c.oid"),
        scope = b.in_scope("c.oid"),
    );
    let mut bounds = BTreeMap::new();
    for row in fetch_scoped(conn, b, "tables and views", sql).await? {
        let oid: i64 = get(&row, "oid")?;
        let name = get_name(&row, "schema", "name")?;
        let kind: String = get(&row, "kind")?;
        if kind == "v" || kind == "m" {
            b.views.insert(oid, name.clone());
            b.schema
                .views
                .insert(name.clone(), view(&row, name, kind == "m")?);
        } else {
            if let Some(bound) = get::<Option<String>>(&row, "bound")? {
                bounds.insert(oid, bound);
            }
            b.tables.insert(oid, name.clone());
            b.schema.tables.insert(name.clone(), table(&row, name)?);
        }
    }
    load_inheritance(conn, b, &bounds).await
}

fn table(row: &PgRow, name: QualifiedName) -> anyhow::Result<Table> {
    Ok(Table {
        name,
        columns: Vec::new(),
        constraints: BTreeMap::new(),
        indexes: BTreeMap::new(),
        policies: BTreeMap::new(),
        unlogged: get(row, "unlogged")?,
        partition_key: get(row, "partition_key")?,
        partition_of: None,
        inherits: Vec::new(),
        rls_enabled: get(row, "rls_enabled")?,
        rls_forced: get(row, "rls_forced")?,
        options: get(row, "options")?,
        comment: get(row, "comment")?,
        depends_on: Vec::new(),
    })
}

fn view(row: &PgRow, name: QualifiedName, materialized: bool) -> anyhow::Result<View> {
    Ok(View {
        name,
        materialized,
        definition: get(row, "view_def")?,
        options: get(row, "options")?,
        indexes: BTreeMap::new(),
        column_comments: BTreeMap::new(),
        comment: get(row, "comment")?,
        depends_on: Vec::new(),
    })
}

/// Partition parents (with the partition's bound) and inheritance parents.
async fn load_inheritance(
    conn: &mut PgConnection,
    b: &mut Builder,
    bounds: &BTreeMap<i64, String>,
) -> anyhow::Result<()> {
    if !b.present.inheritance {
        return Ok(());
    }
    let sql = "-- inheritance: the parent of every partition and inheritance child table
        SELECT i.inhrelid::int8 AS child, i.inhparent::int8 AS parent
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE c.relkind IN ('r', 'p')
        ORDER BY i.inhrelid, i.inhseqno"
        .to_owned();
    for row in fetch(conn, "inheritance", sql).await? {
        let child: i64 = get(&row, "child")?;
        let parent: i64 = get(&row, "parent")?;
        let (Some(child_name), Some(parent_name)) = (b.tables.get(&child), b.tables.get(&parent))
        else {
            continue;
        };
        let table = b
            .schema
            .tables
            .get_mut(child_name)
            .expect("BUG: table oid map out of sync");
        match bounds.get(&child) {
            Some(bound) => {
                table.partition_of = Some(PartitionOf {
                    parent: parent_name.clone(),
                    bound: bound.clone(),
                });
            }
            None => table.inherits.push(parent_name.clone()),
        }
    }
    Ok(())
}

/// Columns of tables and views and attributes of composite types, in `attnum` order.
pub(super) async fn load_columns(conn: &mut PgConnection, b: &mut Builder) -> anyhow::Result<()> {
    let sql = format!(
        "-- columns: every live column of user tables, views and composite types
        SELECT a.attrelid::int8 AS relid, a.attname::text AS name,
               format_type(a.atttypid, a.atttypmod) AS data_type,
               a.attnotnull AS not_null, a.attidentity::text AS identity,
               a.attgenerated::text AS generated,
               pg_get_expr(ad.adbin, ad.adrelid) AS default_expr,
               cn.nspname::text AS collation_schema, co.collname::text AS collation,
               a.attislocal AS is_local, a.attinhcount > 0 AS inherited,
               d.description AS comment
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> t.typcollation
        LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
        LEFT JOIN pg_description d
          ON d.classoid = 'pg_class'::regclass AND d.objoid = a.attrelid AND d.objsubid = a.attnum
        WHERE a.attnum > 0 AND NOT a.attisdropped
          AND c.relkind IN ('r', 'p', 'v', 'm', 'c') AND {USER_NAMESPACE}
          AND (c.relkind = 'c' OR {scope})
        ORDER BY a.attrelid, a.attnum",
        scope = b.in_scope("c.oid"),
    );
    for row in fetch_scoped(conn, b, "columns", sql).await? {
        let relid: i64 = get(&row, "relid")?;
        if let Some(name) = b.tables.get(&relid) {
            let column = column(&row)?;
            let table = b.schema.tables.get_mut(name).expect("BUG: table map");
            table.columns.push(column);
        } else if let Some(name) = b.views.get(&relid) {
            if let Some(comment) = get::<Option<String>>(&row, "comment")? {
                let view = b.schema.views.get_mut(name).expect("BUG: view map");
                view.column_comments.insert(get(&row, "name")?, comment);
            }
        } else if let Some(name) = b.composite_relations.get(&relid) {
            let attribute = CompositeAttribute {
                name: get(&row, "name")?,
                data_type: get(&row, "data_type")?,
                collation: collation(&row)?,
                comment: get(&row, "comment")?,
            };
            let composite = b.schema.composites.get_mut(name).expect("BUG: type map");
            composite.attributes.push(attribute);
        }
    }
    Ok(())
}

fn column(row: &PgRow) -> anyhow::Result<Column> {
    let expr: Option<String> = get(row, "default_expr")?;
    let generated = get::<String>(row, "generated")? == "s";
    Ok(Column {
        name: get(row, "name")?,
        data_type: get(row, "data_type")?,
        not_null: get(row, "not_null")?,
        default: if generated { None } else { expr.clone() },
        // Filled from the sequences query, which knows the identity's sequence.
        identity: None,
        generated: if generated { expr } else { None },
        collation: collation(row)?,
        is_local: get(row, "is_local")?,
        inherited: get(row, "inherited")?,
        comment: get(row, "comment")?,
    })
}
