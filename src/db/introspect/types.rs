//! Schemas, extensions, and the user-defined types the model knows: enums, domains (with
//! their checks) and composite types (their attributes come with the columns query).

use sqlx::PgConnection;

use super::{Builder, USER_NAMESPACE, fetch, get, get_name, not_extension_member};
use crate::core::schema::{
    CompositeType, Domain, DomainCheck, EnumType, Extension, QualifiedName, SchemaDef,
};

/// Namespaces outside the system ones and not created by an extension.
pub(super) async fn load_schemas(conn: &mut PgConnection, b: &mut Builder) -> anyhow::Result<()> {
    let sql = format!(
        "-- schemas: every user namespace and its comment
        SELECT n.nspname::text AS name, d.description AS comment
        FROM pg_namespace n
        LEFT JOIN pg_description d
          ON d.classoid = 'pg_namespace'::regclass AND d.objoid = n.oid AND d.objsubid = 0
        WHERE {USER_NAMESPACE} AND {}",
        not_extension_member("pg_namespace", "n.oid")
    );
    for row in fetch(conn, "schemas", sql).await? {
        let name: String = get(&row, "name")?;
        let comment = get(&row, "comment")?;
        b.schema
            .schemas
            .insert(name.clone(), SchemaDef { name, comment });
    }
    Ok(())
}

/// Installed extensions with their schema, version and comment.
pub(super) async fn load_extensions(
    conn: &mut PgConnection,
    b: &mut Builder,
) -> anyhow::Result<()> {
    let sql = "-- extensions: every installed extension
        SELECT e.oid::int8 AS oid, e.extname::text AS name, n.nspname::text AS schema,
               e.extversion AS version, d.description AS comment
        FROM pg_extension e
        JOIN pg_namespace n ON n.oid = e.extnamespace
        LEFT JOIN pg_description d
          ON d.classoid = 'pg_extension'::regclass AND d.objoid = e.oid AND d.objsubid = 0"
        .to_owned();
    for row in fetch(conn, "extensions", sql).await? {
        let name: String = get(&row, "name")?;
        b.extensions.insert(get(&row, "oid")?, name.clone());
        let extension = Extension {
            name: name.clone(),
            schema: get(&row, "schema")?,
            version: get(&row, "version")?,
            comment: get(&row, "comment")?,
        };
        b.schema.extensions.insert(name, extension);
    }
    Ok(())
}

/// Enums (labels in sort order), domains and composite types; domain checks follow.
pub(super) async fn load_types(conn: &mut PgConnection, b: &mut Builder) -> anyhow::Result<()> {
    if !b.present.types {
        return Ok(());
    }
    let sql = format!(
        "-- types: enums, domains and composite types (not table row types) in user schemas
        SELECT t.oid::int8 AS oid, n.nspname::text AS schema, t.typname::text AS name,
               t.typtype::text AS kind, t.typrelid::int8 AS relid,
               CASE WHEN t.typtype = 'e' THEN ARRAY(
                   SELECT e.enumlabel::text FROM pg_enum e
                   WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) END AS labels,
               CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
               t.typnotnull AS not_null,
               pg_get_expr(t.typdefaultbin, 0) AS default_expr,
               cn.nspname::text AS collation_schema, co.collname::text AS collation,
               d.description AS comment
        FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        LEFT JOIN pg_class r ON r.oid = t.typrelid
        LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
        LEFT JOIN pg_collation co
          ON t.typtype = 'd' AND co.oid = t.typcollation AND t.typcollation <> bt.typcollation
        LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
        LEFT JOIN pg_description d
          ON d.classoid = 'pg_type'::regclass AND d.objoid = t.oid AND d.objsubid = 0
        WHERE {USER_NAMESPACE}
          AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND r.relkind = 'c'))
          AND {}",
        not_extension_member("pg_type", "t.oid")
    );
    for row in fetch(conn, "types", sql).await? {
        let name = get_name(&row, "schema", "name")?;
        b.types.insert(get(&row, "oid")?, name.clone());
        let comment = get(&row, "comment")?;
        match get::<String>(&row, "kind")?.as_str() {
            "e" => {
                let values = get(&row, "labels")?;
                let t = EnumType {
                    name: name.clone(),
                    values,
                    comment,
                };
                b.schema.enums.insert(name, t);
            }
            "d" => {
                let collation = collation(&row)?;
                let domain = Domain {
                    name: name.clone(),
                    base_type: get(&row, "base_type")?,
                    default: get(&row, "default_expr")?,
                    not_null: get(&row, "not_null")?,
                    collation,
                    checks: Vec::new(),
                    comment,
                    depends_on: Vec::new(),
                };
                b.schema.domains.insert(name, domain);
            }
            _ => {
                b.composite_relations
                    .insert(get(&row, "relid")?, name.clone());
                let composite = CompositeType {
                    name: name.clone(),
                    attributes: Vec::new(),
                    comment,
                    depends_on: Vec::new(),
                };
                b.schema.composites.insert(name, composite);
            }
        }
    }
    Ok(())
}

/// A collation from `collation_schema` / `collation` columns (NULL when default).
pub(super) fn collation(row: &sqlx::postgres::PgRow) -> anyhow::Result<Option<QualifiedName>> {
    let schema: Option<String> = get(row, "collation_schema")?;
    let name: Option<String> = get(row, "collation")?;
    Ok(schema.zip(name).map(|(s, n)| QualifiedName::new(s, n)))
}

/// Attaches a domain CHECK constraint row (from the constraints query) to its domain.
pub(super) fn attach_domain_check(b: &mut Builder, type_oid: i64, check: DomainCheck) {
    let Some(name) = b.types.get(&type_oid) else {
        return;
    };
    if let Some(domain) = b.schema.domains.get_mut(name) {
        domain.checks.push(check);
        domain.checks.sort_by(|a, b| a.name.cmp(&b.name));
    }
}
