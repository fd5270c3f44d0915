//! Pure diff tests on hand-built schemas (database-backed fixtures are in
//! `tests/diff_fixtures.rs`).

use std::collections::BTreeMap;

use super::*;
use crate::core::hazard::HazardKind;
use crate::core::hints::{ColumnRename, TableRename};
use crate::core::render::{render_down, render_up};
use crate::core::schema::{
    Column, Constraint, ConstraintKind, EnumType, FkAction, FkMatch, ForeignKey, QualifiedName,
    Table,
};

fn column(name: &str, data_type: &str) -> Column {
    Column {
        name: name.into(),
        data_type: data_type.into(),
        not_null: false,
        default: None,
        identity: None,
        generated: None,
        collation: None,
        is_local: true,
        inherited: false,
        comment: None,
    }
}

fn table(name: &str, columns: Vec<Column>) -> Table {
    Table {
        name: QualifiedName::new("public", name),
        columns,
        constraints: BTreeMap::new(),
        indexes: BTreeMap::new(),
        policies: BTreeMap::new(),
        unlogged: false,
        partition_key: None,
        partition_of: None,
        inherits: Vec::new(),
        rls_enabled: false,
        rls_forced: false,
        options: Vec::new(),
        comment: None,
        depends_on: Vec::new(),
    }
}

fn fk(name: &str, column: &str, target: &str) -> Constraint {
    Constraint {
        name: name.into(),
        kind: ConstraintKind::ForeignKey,
        definition: format!("FOREIGN KEY ({column}) REFERENCES {target}(id)"),
        columns: vec![column.into()],
        foreign_key: Some(ForeignKey {
            table: QualifiedName::new("public", target),
            columns: vec!["id".into()],
            on_update: FkAction::NoAction,
            on_delete: FkAction::NoAction,
            match_type: FkMatch::Simple,
        }),
        deferrable: false,
        initially_deferred: false,
        validated: true,
        no_inherit: false,
        nulls_not_distinct: false,
        index: None,
        is_local: true,
        inherited: false,
        comment: None,
    }
}

fn schema(tables: Vec<Table>) -> Schema {
    let mut s = Schema::default();
    for t in tables {
        s.tables.insert(t.name.clone(), t);
    }
    s
}

fn plan(from: &Schema, to: &Schema) -> Plan {
    diff(from, to, &RenameHints::default()).unwrap()
}

#[test]
fn diff_equal_schemas_is_empty() {
    let s = schema(vec![table("users", vec![column("id", "integer")])]);
    assert!(plan(&s, &s).is_empty());
}

#[test]
fn diff_added_column_adds_and_drops_back() {
    let from = schema(vec![table("users", vec![column("id", "integer")])]);
    let to = schema(vec![table(
        "users",
        vec![column("id", "integer"), column("email", "text")],
    )]);
    let p = plan(&from, &to);
    assert_eq!(
        render_up(&p),
        "ALTER TABLE public.users ADD COLUMN email text;\n"
    );
    assert_eq!(
        render_down(&p),
        "ALTER TABLE public.users DROP COLUMN email;\n"
    );
}

#[test]
fn diff_dropped_table_is_data_loss() {
    let from = schema(vec![table("users", vec![column("id", "integer")])]);
    let p = plan(&from, &Schema::default());
    assert_eq!(render_up(&p), "DROP TABLE public.users;\n");
    assert_eq!(render_down(&p), "CREATE TABLE public.users (id integer);\n");
    assert!(p.hazards().any(|h| h.kind == HazardKind::DataLoss));
}

#[test]
fn diff_new_tables_with_fk_create_tables_first() {
    let mut posts = table(
        "posts",
        vec![column("id", "integer"), column("user_id", "integer")],
    );
    posts.constraints.insert(
        "posts_user_fk".into(),
        fk("posts_user_fk", "user_id", "users"),
    );
    let to = schema(vec![posts, table("users", vec![column("id", "integer")])]);
    let up = render_up(&plan(&Schema::default(), &to));
    let fk_at = up.find("ADD CONSTRAINT").unwrap();
    assert!(
        up.find("CREATE TABLE public.users").unwrap() < fk_at,
        "{up}"
    );
    assert!(
        up.find("CREATE TABLE public.posts").unwrap() < fk_at,
        "{up}"
    );
}

#[test]
fn diff_type_change_uses_using_cast() {
    let from = schema(vec![table("t", vec![column("n", "text")])]);
    let to = schema(vec![table("t", vec![column("n", "integer")])]);
    let p = plan(&from, &to);
    assert_eq!(
        render_up(&p),
        "ALTER TABLE public.t ALTER COLUMN n TYPE integer USING n::integer;\n"
    );
    assert!(p.hazards().any(|h| h.kind == HazardKind::TableRewrite));
}

#[test]
fn diff_table_rename_hint_renames_instead_of_drop() {
    let from = schema(vec![table("people", vec![column("id", "integer")])]);
    let to = schema(vec![table("users", vec![column("id", "integer")])]);
    let hints = RenameHints {
        tables: vec![TableRename {
            schema: "public".into(),
            from: "people".into(),
            to: "users".into(),
        }],
        columns: vec![],
    };
    let p = diff(&from, &to, &hints).unwrap();
    assert_eq!(
        render_up(&p),
        "ALTER TABLE public.people RENAME TO users;\n"
    );
    assert!(plan(&from, &to).suggestions[0].contains("looks like a rename"));
}

#[test]
fn diff_column_rename_hint_renames_column() {
    let from = schema(vec![table("t", vec![column("mail", "text")])]);
    let to = schema(vec![table("t", vec![column("email", "text")])]);
    let hints = RenameHints {
        tables: vec![],
        columns: vec![ColumnRename {
            schema: "public".into(),
            table: "t".into(),
            from: "mail".into(),
            to: "email".into(),
        }],
    };
    let p = diff(&from, &to, &hints).unwrap();
    assert_eq!(
        render_up(&p),
        "ALTER TABLE public.t RENAME COLUMN mail TO email;\n"
    );
    assert_eq!(plan(&from, &to).suggestions.len(), 1);
}

fn with_enum(values: &[&str]) -> Schema {
    let mut s = Schema::default();
    let name = QualifiedName::new("public", "mood");
    let values = values.iter().map(|v| (*v).to_owned()).collect();
    s.enums.insert(
        name.clone(),
        EnumType {
            name,
            values,
            comment: None,
        },
    );
    s
}

#[test]
fn diff_enum_new_value_adds_in_place() {
    let p = plan(&with_enum(&["a", "c"]), &with_enum(&["a", "b", "c"]));
    assert_eq!(
        render_up(&p),
        "ALTER TYPE public.mood ADD VALUE 'b' BEFORE 'c';\n"
    );
}

#[test]
fn diff_enum_removed_value_recreates_type() {
    let p = plan(&with_enum(&["a", "b"]), &with_enum(&["a"]));
    let up = render_up(&p);
    assert!(up.starts_with("ALTER TYPE public.mood RENAME TO mood__migrated_old;\nCREATE TYPE public.mood AS ENUM ('a');"), "{up}");
    assert!(p.hazards().any(|h| h.kind == HazardKind::DataLoss));
}

/// Smoke test for scale (no timing asserted): a thousand tables with a key and a foreign
/// key each, created from nothing and dropped again.
#[test]
fn diff_thousand_tables_plans_every_table() {
    let tables: Vec<Table> = (0..1000)
        .map(|i| {
            let mut t = table(
                &format!("t{i}"),
                vec![column("id", "integer"), column("parent_id", "integer")],
            );
            if i > 0 {
                let target = format!("t{}", i - 1);
                t.constraints.insert(
                    format!("t{i}_fk"),
                    fk(&format!("t{i}_fk"), "parent_id", &target),
                );
            }
            t
        })
        .collect();
    let big = schema(tables);
    let up = plan(&Schema::default(), &big);
    assert_eq!(up.steps.len(), 1000 + 999);
    let down = plan(&big, &Schema::default());
    assert_eq!(down.steps.len(), 1000 + 999);
}
