//! The whole schema as DDL, split like pg_dump's sections so a backup loads data between
//! them: `pre_data` (schemas, extensions, types, sequences, functions, tables with columns
//! and CHECKs, views; dependency ordered) and `post_data` (keys, indexes, foreign keys,
//! triggers, row-level security, policies, materialized view refreshes).

use std::collections::{BTreeMap, BTreeSet};

use super::comment_on;
use super::objects::{
    create_composite, create_domain, create_enum, create_extension, create_function, create_schema,
    create_sequence, create_view, sequence_owned_by,
};
use super::table::{
    add_constraint, attach_partition, create_index, create_policy, create_table, create_trigger,
    enable_rls,
};
use crate::core::render::quote_ident;
use crate::core::schema::{ConstraintKind, ObjectRef, QualifiedName, Schema, Table};

/// A schema's DDL in two sections (statements without trailing `;`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpDdl {
    pub pre_data: Vec<String>,
    pub post_data: Vec<String>,
}

/// Every statement that creates `schema` in an empty database: pre-data then post-data.
pub fn create_statements(schema: &Schema) -> Vec<String> {
    let dump = dump_ddl(schema);
    dump.pre_data.into_iter().chain(dump.post_data).collect()
}

/// The default comment of the `public` schema in a new database.
const PUBLIC_COMMENT: &str = "standard public schema";

/// Unsupported kinds with a complete `ddl` that types and tables may use: emitted first.
const EARLY_KINDS: &[&str] = &["collation"];
/// Unsupported kinds with a complete `ddl` that views may use: emitted before the first view.
const PRE_DATA_KINDS: &[&str] = &["aggregate", "operator"];
/// Unsupported kinds with a complete `ddl` that need tables and views: emitted last.
const POST_DATA_KINDS: &[&str] = &["rule", "statistics"];

/// The `ddl` of unsupported objects of the given kinds.
fn unsupported_ddl(schema: &Schema, kinds: &[&str]) -> Vec<String> {
    schema
        .unsupported
        .iter()
        .filter(|u| kinds.contains(&u.kind.as_str()))
        .filter_map(|u| u.ddl.clone())
        .collect()
}

/// The whole schema in pg_dump's order. Objects of unsupported kinds are rendered only
/// where the catalog gave a complete statement (`UnsupportedObject::ddl`: collations, rules,
/// statistics, plain aggregates, operators): callers must check `schema.unsupported` for the rest.
pub fn dump_ddl(schema: &Schema) -> DumpDdl {
    // As pg_dump does: SQL function bodies may name tables created later.
    let mut pre = vec!["SET check_function_bodies = false".to_owned()];
    pre.extend(schemas(schema));
    for extension in schema.extensions.values() {
        // plpgsql exists in every database, and only its owner may comment on it.
        if extension.name != "plpgsql" {
            pre.extend(create_extension(extension));
        }
    }
    pre.extend(unsupported_ddl(schema, EARLY_KINDS));
    let order = creation_order(schema);
    let late = late_views(schema, &order);
    let mut routines_pending = true;
    for object in &order {
        if late.contains(object) {
            continue;
        }
        if routines_pending && matches!(object, ObjectRef::View(_)) {
            pre.extend(unsupported_ddl(schema, PRE_DATA_KINDS));
            routines_pending = false;
        }
        pre.extend(create_object(schema, object));
    }
    if routines_pending {
        pre.extend(unsupported_ddl(schema, PRE_DATA_KINDS));
    }
    pre.extend(after_tables(schema));
    let late_order: Vec<&ObjectRef> = order.iter().filter(|o| late.contains(*o)).collect();
    DumpDdl {
        pre_data: pre,
        post_data: post_data(schema, &late_order),
    }
}

/// Views that need a primary key or unique constraint (a GROUP BY relying on it), and the
/// views that read them: created in post-data once the keys exist, as pg_dump does.
fn late_views(schema: &Schema, order: &[ObjectRef]) -> BTreeSet<ObjectRef> {
    let mut late = BTreeSet::new();
    for object in order {
        let ObjectRef::View(name) = object else {
            continue;
        };
        let Some(view) = schema.views.get(name) else {
            continue;
        };
        let needs_key = view.depends_on.iter().any(|d| {
            matches!(d, ObjectRef::Constraint(..))
                || (matches!(d, ObjectRef::View(_)) && late.contains(d))
        });
        if needs_key {
            late.insert(object.clone());
        }
    }
    late
}

fn schemas(schema: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    for s in schema.schemas.values() {
        if s.name == "public" {
            if s.comment.as_deref() != Some(PUBLIC_COMMENT) {
                out.push(comment_on("SCHEMA", "public", s.comment.as_deref()));
            }
        } else {
            out.extend(create_schema(s));
        }
    }
    out
}

/// Ties between objects that do not depend on each other break by kind, then name.
fn rank(object: &ObjectRef) -> u8 {
    match object {
        ObjectRef::Schema(_) => 0,
        ObjectRef::Extension(_) => 1,
        ObjectRef::Type(_) => 2,
        ObjectRef::Sequence(_) => 3,
        ObjectRef::Function(_) => 4,
        ObjectRef::Table(_) => 5,
        ObjectRef::View(_) => 6,
        ObjectRef::Constraint(..) => 7,
    }
}

/// Types, sequences, functions, tables and views of `schema`, each after what it depends
/// on (Kahn's algorithm over `depends_on`; a cycle is broken at its lowest-ranked object).
pub(super) fn creation_order(schema: &Schema) -> Vec<ObjectRef> {
    let deps = dependencies(schema);
    let mut waiting: BTreeMap<ObjectRef, BTreeSet<ObjectRef>> = deps
        .iter()
        .map(|(object, on)| {
            let known: BTreeSet<ObjectRef> = on
                .iter()
                .filter(|d| deps.contains_key(*d) && *d != object)
                .cloned()
                .collect();
            (object.clone(), known)
        })
        .collect();
    let mut order = Vec::with_capacity(waiting.len());
    while !waiting.is_empty() {
        let next = waiting
            .iter()
            .filter(|(_, on)| on.is_empty())
            .map(|(object, _)| (rank(object), object.clone()))
            .min()
            .or_else(|| {
                waiting
                    .keys()
                    .map(|object| (rank(object), object.clone()))
                    .min()
            })
            .map(|(_, object)| object)
            .expect("BUG: waiting is not empty");
        waiting.remove(&next);
        for on in waiting.values_mut() {
            on.remove(&next);
        }
        order.push(next);
    }
    order
}

/// Each pre-data object with what it depends on (tables also on their parents).
fn dependencies(schema: &Schema) -> BTreeMap<ObjectRef, Vec<ObjectRef>> {
    let mut deps = BTreeMap::new();
    for name in schema.enums.keys() {
        deps.insert(ObjectRef::Type(name.clone()), Vec::new());
    }
    for (name, d) in &schema.domains {
        deps.insert(ObjectRef::Type(name.clone()), d.depends_on.clone());
    }
    for (name, c) in &schema.composites {
        deps.insert(ObjectRef::Type(name.clone()), c.depends_on.clone());
    }
    for name in schema.sequences.keys() {
        deps.insert(ObjectRef::Sequence(name.clone()), Vec::new());
    }
    for (key, f) in &schema.functions {
        deps.insert(ObjectRef::Function(key.clone()), f.depends_on.clone());
    }
    for (name, t) in &schema.tables {
        let mut on = t.depends_on.clone();
        on.extend(t.inherits.iter().cloned().map(ObjectRef::Table));
        deps.insert(ObjectRef::Table(name.clone()), on);
    }
    for (name, v) in &schema.views {
        deps.insert(ObjectRef::View(name.clone()), v.depends_on.clone());
    }
    deps
}

fn create_object(schema: &Schema, object: &ObjectRef) -> Vec<String> {
    match object {
        ObjectRef::Type(name) => {
            if let Some(t) = schema.enums.get(name) {
                create_enum(t)
            } else if let Some(d) = schema.domains.get(name) {
                create_domain(d)
            } else {
                schema
                    .composites
                    .get(name)
                    .map(create_composite)
                    .unwrap_or_default()
            }
        }
        ObjectRef::Sequence(name) => schema
            .sequences
            .get(name)
            .map(create_sequence)
            .unwrap_or_default(),
        ObjectRef::Function(key) => schema
            .functions
            .get(key)
            .map(create_function)
            .unwrap_or_default(),
        ObjectRef::Table(name) => schema
            .tables
            .get(name)
            .map(create_table)
            .unwrap_or_default(),
        ObjectRef::View(name) => schema
            .views
            .get(name)
            .map(|v| create_view(v, false))
            .unwrap_or_default(),
        ObjectRef::Schema(_) | ObjectRef::Extension(_) | ObjectRef::Constraint(..) => Vec::new(),
    }
}

/// Pre-data statements that need every table: partitions attached, serial sequences owned,
/// defaults and NOT NULL an inheritance child sets on a column it only inherits.
fn after_tables(schema: &Schema) -> Vec<String> {
    let mut out: Vec<String> = schema
        .tables
        .values()
        .filter_map(attach_partition)
        .collect();
    out.extend(schema.sequences.values().filter_map(sequence_owned_by));
    for table in schema.tables.values() {
        out.extend(inherited_column_changes(schema, table));
    }
    out
}

/// For an inheritance child (not a partition), what differs on a column it does not declare
/// itself: `SET DEFAULT` / `SET NOT NULL` as pg_dump writes them.
fn inherited_column_changes(schema: &Schema, t: &Table) -> Vec<String> {
    if t.inherits.is_empty() || t.partition_of.is_some() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in t.columns.iter().filter(|c| !c.is_local) {
        let parent = t
            .inherits
            .iter()
            .find_map(|p| schema.tables.get(p)?.column(&c.name));
        let column = quote_ident(&c.name);
        if let Some(default) = &c.default
            && parent.and_then(|p| p.default.as_ref()) != Some(default)
        {
            out.push(format!(
                "ALTER TABLE ONLY {} ALTER COLUMN {column} SET DEFAULT {default}",
                t.name
            ));
        }
        if c.not_null && !parent.is_some_and(|p| p.not_null) {
            out.push(format!(
                "ALTER TABLE ONLY {} ALTER COLUMN {column} SET NOT NULL",
                t.name
            ));
        }
    }
    out
}

fn post_data(schema: &Schema, late_views: &[&ObjectRef]) -> Vec<String> {
    let mut out = Vec::new();
    let tables: Vec<&Table> = schema.tables.values().collect();
    for t in &tables {
        for c in t.constraints.values() {
            let key = matches!(
                c.kind,
                ConstraintKind::PrimaryKey | ConstraintKind::Unique | ConstraintKind::Exclusion
            );
            let late_check = c.kind == ConstraintKind::Check && !c.validated && c.is_local;
            if key || late_check {
                out.extend(add_constraint(t, c));
            }
        }
    }
    for view in late_views {
        out.extend(create_object(schema, view));
    }
    for t in &tables {
        for index in t.indexes.values().filter(|i| i.constraint.is_none()) {
            out.extend(create_index(&t.name.schema, index));
        }
    }
    for v in schema.views.values() {
        for index in v.indexes.values() {
            out.extend(create_index(&v.name.schema, index));
        }
    }
    out.extend(index_attachments(&tables));
    out.extend(constraint_index_comments(&tables));
    for t in &tables {
        for c in t.constraints.values() {
            if c.kind == ConstraintKind::ForeignKey && !c.inherited {
                out.extend(add_constraint(t, c));
            }
        }
    }
    for trigger in schema.triggers.values() {
        out.extend(create_trigger(trigger));
    }
    for t in &tables {
        out.extend(enable_rls(t));
        for policy in t.policies.values() {
            out.extend(create_policy(&t.name, policy));
        }
    }
    out.extend(unsupported_ddl(schema, POST_DATA_KINDS));
    out.extend(refreshes(schema));
    out
}

/// `ALTER INDEX parent ATTACH PARTITION child` for each partition's index.
fn index_attachments(tables: &[&Table]) -> Vec<String> {
    let mut out = Vec::new();
    for t in tables {
        for index in t.indexes.values() {
            if let Some(parent) = &index.parent_index {
                out.push(format!(
                    "ALTER INDEX {parent} ATTACH PARTITION {}",
                    QualifiedName::new(&t.name.schema, &index.name)
                ));
            }
        }
    }
    out
}

/// Comments on indexes that back constraints (created by ADD CONSTRAINT, not CREATE INDEX).
fn constraint_index_comments(tables: &[&Table]) -> Vec<String> {
    let mut out = Vec::new();
    for t in tables {
        for index in t.indexes.values().filter(|i| i.constraint.is_some()) {
            if let Some(comment) = &index.comment {
                let target = QualifiedName::new(&t.name.schema, &index.name);
                out.push(comment_on("INDEX", &target.to_string(), Some(comment)));
            }
        }
    }
    out
}

/// `REFRESH MATERIALIZED VIEW` for each materialized view, in creation order.
fn refreshes(schema: &Schema) -> Vec<String> {
    creation_order(schema)
        .into_iter()
        .filter_map(|object| match object {
            ObjectRef::View(name) => schema.views.get(&name).filter(|v| v.materialized),
            _ => None,
        })
        .map(|v| format!("REFRESH MATERIALIZED VIEW {}", v.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema::{EnumType, SchemaDef, View};

    fn name(n: &str) -> QualifiedName {
        QualifiedName::new("app", n)
    }

    fn view(n: &str, depends_on: Vec<ObjectRef>) -> View {
        View {
            name: name(n),
            materialized: false,
            definition: " SELECT 1;".into(),
            options: vec![],
            indexes: BTreeMap::new(),
            column_comments: BTreeMap::new(),
            comment: None,
            depends_on,
        }
    }

    #[test]
    fn creation_order_puts_views_after_what_they_read() {
        let mut schema = Schema::default();
        // "a_view" sorts first by name but reads "b_view".
        schema.views.insert(
            name("a_view"),
            view("a_view", vec![ObjectRef::View(name("b_view"))]),
        );
        schema.views.insert(name("b_view"), view("b_view", vec![]));
        let order = creation_order(&schema);
        assert_eq!(
            order,
            [
                ObjectRef::View(name("b_view")),
                ObjectRef::View(name("a_view"))
            ]
        );
    }

    #[test]
    fn creation_order_breaks_cycles_instead_of_looping() {
        let mut schema = Schema::default();
        schema
            .views
            .insert(name("a"), view("a", vec![ObjectRef::View(name("b"))]));
        schema
            .views
            .insert(name("b"), view("b", vec![ObjectRef::View(name("a"))]));
        assert_eq!(creation_order(&schema).len(), 2);
    }

    #[test]
    fn dump_ddl_types_first_and_public_schema_not_created() {
        let mut schema = Schema::default();
        for (n, comment) in [("public", Some(PUBLIC_COMMENT)), ("app", None)] {
            schema.schemas.insert(
                n.into(),
                SchemaDef {
                    name: n.into(),
                    comment: comment.map(Into::into),
                },
            );
        }
        schema.views.insert(name("v"), view("v", vec![]));
        schema.enums.insert(
            name("mood"),
            EnumType {
                name: name("mood"),
                values: vec!["ok".into()],
                comment: None,
            },
        );
        let dump = dump_ddl(&schema);
        assert_eq!(
            dump.pre_data,
            [
                "SET check_function_bodies = false",
                "CREATE SCHEMA app",
                "CREATE TYPE app.mood AS ENUM ('ok')",
                "CREATE VIEW app.v AS\nSELECT 1",
            ]
        );
        assert!(dump.post_data.is_empty());
    }
}
