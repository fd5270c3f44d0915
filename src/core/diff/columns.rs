//! Columns of a table that exists on both sides: added, dropped, renamed (by hint), and
//! altered one property at a time (type with USING, generation, default, NOT NULL,
//! identity). Comments on columns are table parts (`parts.rs`).

use std::collections::BTreeMap;

use crate::core::diff::types::refers_to;
use crate::core::diff::{Ctx, Step, sql};
use crate::core::hazard::{self, Hazard};
use crate::core::order::{Change, Phase};
use crate::core::render::quote_ident;
use crate::core::schema::{Column, Identity, ObjectRef, QualifiedName, Table};

/// Columns managed on this table (not the ones a partition takes from its parent).
fn own_columns(table: &Table) -> impl Iterator<Item = &Column> {
    table.columns.iter().filter(|c| c.is_local)
}

pub(crate) fn diff_columns(ctx: &mut Ctx<'_>, old: &Table, new: &Table) {
    let name = &new.name;
    let renames: BTreeMap<&str, &str> = ctx
        .hints
        .columns
        .iter()
        .filter(|h| h.schema == name.schema && h.table == name.name)
        .filter(|h| old.column(&h.from).is_some() && old.column(&h.to).is_none())
        .filter(|h| new.column(&h.to).is_some())
        .map(|h| (h.to.as_str(), h.from.as_str()))
        .collect();
    let old_cols: BTreeMap<&str, &Column> =
        own_columns(old).map(|c| (c.name.as_str(), c)).collect();
    let mut matched = std::collections::BTreeSet::new();
    let mut added = Vec::new();
    for column in own_columns(new) {
        let source = renames
            .get(column.name.as_str())
            .copied()
            .unwrap_or(&column.name);
        if let Some(before) = old_cols.get(source) {
            matched.insert(source);
            if source != column.name {
                rename_column(ctx, name, source, &column.name);
            }
            alter_column(ctx, name, before, column);
        } else {
            add_column(ctx, name, column);
            added.push(column);
        }
    }
    let dropped: Vec<&Column> = own_columns(old)
        .filter(|c| !matched.contains(c.name.as_str()))
        .collect();
    for column in &dropped {
        drop_column(ctx, name, column);
    }
    suggest_renames(ctx, name, &dropped, &added);
    diff_inherited_columns(ctx, old, new);
}

fn key(table: &QualifiedName, column: &str) -> String {
    format!("table:{table}:column:{column}")
}

fn object(table: &QualifiedName, column: &str) -> String {
    format!("{table}.{}", quote_ident(column))
}

/// A column change; a child table's (partition, inheritor) runs after its parents' change
/// of the same column, which PostgreSQL propagates to it.
fn push(ctx: &mut Ctx<'_>, table: &QualifiedName, column: &str, step: Step) {
    let parents: Vec<String> = ctx
        .to
        .tables
        .get(table)
        .map(|t| parent_names(t).map(|p| key(p, column)).collect())
        .unwrap_or_default();
    ctx.push(Change::new(Phase::AlterTable, key(table, column), step).after(parents));
}

fn parent_names(table: &Table) -> impl Iterator<Item = &QualifiedName> {
    table
        .partition_of
        .iter()
        .map(|p| &p.parent)
        .chain(&table.inherits)
}

/// The same column in the first parent that has it.
fn parent_column<'a>(
    tables: &'a BTreeMap<QualifiedName, Table>,
    table: &Table,
    column: &str,
) -> Option<&'a Column> {
    parent_names(table).find_map(|p| tables.get(p)?.column(column))
}

/// Statements that give a new child table's inherited columns their own NOT NULL and
/// default where they differ from the parent's (`tables`: the side the child lives in).
pub(crate) fn inherited_column_statements(
    tables: &BTreeMap<QualifiedName, Table>,
    table: &Table,
) -> Vec<String> {
    let mut out = Vec::new();
    for column in table.columns.iter().filter(|c| !c.is_local) {
        let Some(parent) = parent_column(tables, table, &column.name) else {
            continue;
        };
        if column.not_null && !parent.not_null {
            out.push(sql::alter_column(&table.name, &column.name, "SET NOT NULL"));
        }
        if column.default != parent.default {
            out.push(default_statement(&table.name, column));
        }
    }
    out
}

/// Columns a child takes from its parent keep their own NOT NULL and default: change them
/// where the parent's change (which propagates) does not explain the child's.
fn diff_inherited_columns(ctx: &mut Ctx<'_>, old: &Table, new: &Table) {
    for column in new.columns.iter().filter(|c| !c.is_local) {
        let Some(before) = old.column(&column.name).filter(|c| !c.is_local) else {
            continue;
        };
        let (Some(p_old), Some(p_new)) = (
            parent_column(&ctx.from.tables, old, &column.name),
            parent_column(&ctx.to.tables, new, &column.name),
        ) else {
            continue;
        };
        let name = &new.name;
        let explained_null = before.not_null == p_old.not_null && column.not_null == p_new.not_null;
        if before.not_null != column.not_null && !explained_null {
            let (up, down) = if column.not_null {
                ("SET", "DROP")
            } else {
                ("DROP", "SET")
            };
            let step = Step::new(
                format!(
                    "{} not null on column {}",
                    up.to_lowercase(),
                    object(name, &column.name)
                ),
                vec![sql::alter_column(
                    name,
                    &column.name,
                    &format!("{up} NOT NULL"),
                )],
                vec![sql::alter_column(
                    name,
                    &column.name,
                    &format!("{down} NOT NULL"),
                )],
            );
            push(ctx, name, &column.name, step);
        }
        let explained_default = before.default == p_old.default && column.default == p_new.default;
        if before.default != column.default && !explained_default {
            set_default(ctx, name, before, column);
        }
    }
}

fn rename_column(ctx: &mut Ctx<'_>, table: &QualifiedName, from: &str, to: &str) {
    let rename = |a: &str, b: &str| {
        sql::alter_table(
            table,
            &format!("RENAME COLUMN {} TO {}", quote_ident(a), quote_ident(b)),
        )
    };
    let step = Step::new(
        format!(
            "rename column {} to {}",
            object(table, from),
            quote_ident(to)
        ),
        vec![rename(from, to)],
        vec![rename(to, from)],
    );
    push(ctx, table, to, step);
}

fn add_column(ctx: &mut Ctx<'_>, table: &QualifiedName, column: &Column) {
    let obj = object(table, &column.name);
    let step = Step::new(
        format!("add column {obj}"),
        vec![sql::alter_table(
            table,
            &format!("ADD COLUMN {}", sql::column_definition(column)),
        )],
        vec![sql::alter_table(
            table,
            &format!("DROP COLUMN {}", quote_ident(&column.name)),
        )],
    )
    .with_hazards(hazard::add_column_default(
        &obj,
        column.default.as_deref(),
        column.generated.is_some(),
    ));
    push(ctx, table, &column.name, step);
}

fn drop_column(ctx: &mut Ctx<'_>, table: &QualifiedName, column: &Column) {
    let obj = object(table, &column.name);
    let step = Step::new(
        format!("drop column {obj}"),
        vec![sql::alter_table(
            table,
            &format!("DROP COLUMN {}", quote_ident(&column.name)),
        )],
        vec![sql::alter_table(
            table,
            &format!("ADD COLUMN {}", sql::column_definition(column)),
        )],
    )
    .with_hazards(hazard::drop_column(&obj));
    push(ctx, table, &column.name, step);
}

fn alter_column(ctx: &mut Ctx<'_>, table: &QualifiedName, old: &Column, new: &Column) {
    if old.generated != new.generated {
        // PostgreSQL 15 cannot change a generation expression: drop and add the column.
        let mut step = Step::new(
            format!("recreate generated column {}", object(table, &new.name)),
            recreate(table, old, new),
            recreate(table, new, old),
        );
        if old.generated.is_none() {
            step = step.with_hazards(hazard::drop_column(&object(table, &new.name)));
        }
        push(ctx, table, &new.name, step);
        return;
    }
    let type_changed = old.data_type != new.data_type || old.collation != new.collation;
    if type_changed {
        alter_type(ctx, table, old, new);
    } else if old.default != new.default && old.default.is_some() && new.default.is_none() {
        set_default(ctx, table, old, new);
    }
    alter_identity_and_null(ctx, table, old, new);
    if !type_changed && old.default != new.default && new.default.is_some() {
        set_default(ctx, table, old, new);
    }
}

fn recreate(table: &QualifiedName, from: &Column, to: &Column) -> Vec<String> {
    vec![
        sql::alter_table(table, &format!("DROP COLUMN {}", quote_ident(&from.name))),
        sql::alter_table(table, &format!("ADD COLUMN {}", sql::column_definition(to))),
    ]
}

/// `::text` (or `::text[]`) when PostgreSQL has no cast from one type to the other but both
/// read and write text: enum to enum, numbers to dates and times.
fn text_route(enums: &[&QualifiedName], from: &str, to: &str) -> &'static str {
    const NUMERIC: &[&str] = &[
        "smallint",
        "integer",
        "bigint",
        "numeric",
        "real",
        "double precision",
    ];
    const TEMPORAL: &[&str] = &["timestamp", "date", "time", "interval"];
    let is_enum = |ty: &str| enums.iter().any(|n| refers_to(ty, n).is_some());
    let is = |kinds: &[&str], ty: &str| {
        kinds
            .iter()
            .any(|k| ty.trim_end_matches("[]").starts_with(k))
    };
    let crosses =
        (is(NUMERIC, from) && is(TEMPORAL, to)) || (is(NUMERIC, to) && is(TEMPORAL, from));
    if !(is_enum(from) || crosses) {
        ""
    } else if from.ends_with("[]") {
        "::text[]"
    } else {
        "::text"
    }
}

/// `ALTER COLUMN ... TYPE t [COLLATE c] USING col::t`, with the default dropped before and
/// set after (a default of the old type may not cast implicitly).
fn type_statements(
    table: &QualifiedName,
    from: &Column,
    to: &Column,
    enums: &[&QualifiedName],
) -> Vec<String> {
    let mut out = Vec::new();
    if from.default.is_some() {
        out.push(sql::alter_column(table, &to.name, "DROP DEFAULT"));
    }
    let collate = to
        .collation
        .as_ref()
        .map(|c| format!(" COLLATE {c}"))
        .unwrap_or_default();
    let using = if from.data_type == to.data_type {
        String::new()
    } else {
        let route = text_route(enums, &from.data_type, &to.data_type);
        format!(" USING {}{route}::{}", quote_ident(&to.name), to.data_type)
    };
    out.push(sql::alter_column(
        table,
        &to.name,
        &format!("TYPE {}{collate}{using}", to.data_type),
    ));
    if let Some(default) = &to.default {
        out.push(sql::alter_column(
            table,
            &to.name,
            &format!("SET DEFAULT {default}"),
        ));
    }
    out
}

fn alter_type(ctx: &mut Ctx<'_>, table: &QualifiedName, old: &Column, new: &Column) {
    let obj = object(table, &new.name);
    let enums: Vec<&QualifiedName> = ctx.from.enums.keys().chain(ctx.to.enums.keys()).collect();
    let step = Step::new(
        format!("change type of column {obj} to {}", new.data_type),
        type_statements(table, old, new, &enums),
        type_statements(table, new, old, &enums),
    )
    .with_hazards(hazard::column_type_change(
        &obj,
        &old.data_type,
        &new.data_type,
    ));
    push(ctx, table, &new.name, step);
    ctx.rebuilt.insert(ObjectRef::Table(table.clone()));
}

fn default_statement(table: &QualifiedName, column: &Column) -> String {
    match &column.default {
        Some(d) => sql::alter_column(table, &column.name, &format!("SET DEFAULT {d}")),
        None => sql::alter_column(table, &column.name, "DROP DEFAULT"),
    }
}

fn set_default(ctx: &mut Ctx<'_>, table: &QualifiedName, old: &Column, new: &Column) {
    let step = Step::new(
        format!("change default of column {}", object(table, &new.name)),
        vec![default_statement(table, new)],
        vec![default_statement(table, old)],
    );
    push(ctx, table, &new.name, step);
}

/// Identity and NOT NULL move together: identity needs NOT NULL before it is added and
/// keeps it until it is dropped.
fn alter_identity_and_null(ctx: &mut Ctx<'_>, table: &QualifiedName, old: &Column, new: &Column) {
    let obj = object(table, &new.name);
    if old.not_null != new.not_null && new.not_null {
        let step = Step::new(
            format!("set not null on column {obj}"),
            vec![sql::alter_column(table, &new.name, "SET NOT NULL")],
            vec![sql::alter_column(table, &new.name, "DROP NOT NULL")],
        )
        .with_hazards(hazard::validation_scan(&obj, "NOT NULL"));
        push(ctx, table, &new.name, step);
    }
    if old.identity != new.identity {
        let step = Step::new(
            format!("change identity of column {obj}"),
            identity_statements(
                table,
                &new.name,
                old.identity.as_ref(),
                new.identity.as_ref(),
            ),
            identity_statements(
                table,
                &new.name,
                new.identity.as_ref(),
                old.identity.as_ref(),
            ),
        );
        push(ctx, table, &new.name, step);
    }
    if old.not_null != new.not_null && !new.not_null {
        let step = Step::new(
            format!("drop not null on column {obj}"),
            vec![sql::alter_column(table, &new.name, "DROP NOT NULL")],
            vec![sql::alter_column(table, &new.name, "SET NOT NULL")],
        )
        .with_hazards(Vec::<Hazard>::new());
        push(ctx, table, &new.name, step);
    }
}

fn identity_statements(
    table: &QualifiedName,
    column: &str,
    from: Option<&Identity>,
    to: Option<&Identity>,
) -> Vec<String> {
    match (from, to) {
        (None, None) => Vec::new(),
        (Some(_), None) => vec![sql::alter_column(table, column, "DROP IDENTITY")],
        (None, Some(to)) => vec![sql::alter_column(
            table,
            column,
            &format!("ADD {}", sql::identity_clause(to)),
        )],
        (Some(from), Some(to)) => {
            let mut out = Vec::new();
            if from.sequence != to.sequence {
                out.push(format!(
                    "ALTER SEQUENCE {} RENAME TO {}",
                    from.sequence,
                    quote_ident(&to.sequence.name)
                ));
            }
            let o = &to.options;
            out.push(sql::alter_column(
                table,
                column,
                &format!(
                    "SET GENERATED {} SET START WITH {} SET INCREMENT BY {} SET MINVALUE {} SET MAXVALUE {} SET CACHE {} SET {}",
                    sql::generation(to.generation),
                    o.start,
                    o.increment,
                    o.min_value,
                    o.max_value,
                    o.cache,
                    if o.cycle { "CYCLE" } else { "NO CYCLE" }
                ),
            ));
            out
        }
    }
}

/// A dropped and an added column of the same type look like a rename: suggest the hint.
fn suggest_renames(
    ctx: &mut Ctx<'_>,
    table: &QualifiedName,
    dropped: &[&Column],
    added: &[&Column],
) {
    for new in added {
        if let Some(old) = dropped.iter().find(|o| o.data_type == new.data_type) {
            ctx.suggestions.push(format!(
                "column {} looks like a rename of {}: add `-- migrated:renamed from={}` on its line to rename instead of drop and add",
                object(table, &new.name),
                quote_ident(&old.name),
                quote_ident(&old.name)
            ));
        }
    }
}
