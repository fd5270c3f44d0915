//! Tables: created, dropped, renamed (by hint only; a look-alike pair becomes a suggestion),
//! and altered (storage, options, partitioning, inheritance, then columns and parts).

use std::collections::{BTreeMap, BTreeSet};

use crate::core::diff::parts::{self, table_parts};
use crate::core::diff::{Ctx, Step, columns, sql};
use crate::core::hazard;
use crate::core::order::{Change, Phase};
use crate::core::render::quote_ident;
use crate::core::schema::{ConstraintKind, ObjectRef, QualifiedName, Table};

pub(crate) fn diff_tables(ctx: &mut Ctx<'_>) {
    let renames = table_renames(ctx);
    let rekeyed = rekeyed_tables(ctx, &renames);
    let retyped = retyped_columns(ctx);
    let renamed_from: BTreeSet<&QualifiedName> = renames.iter().map(|(f, _)| f).collect();
    for (name, table) in &ctx.to.tables {
        let source = renames
            .iter()
            .find(|(_, t)| t == name)
            .map_or(name, |(f, _)| f);
        match ctx.from.tables.get(source) {
            Some(old) => alter_table(ctx, old, table, &rekeyed, &retyped),
            None => create_table(ctx, table),
        }
    }
    let mut children: BTreeMap<QualifiedName, Vec<String>> = BTreeMap::new();
    for table in ctx.from.tables.values() {
        let parents = table
            .partition_of
            .iter()
            .map(|p| &p.parent)
            .chain(&table.inherits);
        for parent in parents {
            children
                .entry(parent.clone())
                .or_default()
                .push(table_key(&table.name));
        }
    }
    for (name, table) in &ctx.from.tables {
        if !ctx.to.tables.contains_key(name) && !renamed_from.contains(name) {
            drop_table(ctx, table, &children);
        }
    }
    suggest_renames(ctx, &renamed_from);
}

/// Hinted renames whose source exists and whose target does not exist yet.
fn table_renames(ctx: &Ctx<'_>) -> Vec<(QualifiedName, QualifiedName)> {
    ctx.hints
        .tables
        .iter()
        .map(|h| {
            (
                QualifiedName::new(&h.schema, &h.from),
                QualifiedName::new(&h.schema, &h.to),
            )
        })
        .filter(|(f, t)| {
            ctx.from.tables.contains_key(f)
                && !ctx.from.tables.contains_key(t)
                && ctx.to.tables.contains_key(t)
        })
        .collect()
}

/// Tables whose primary key, unique constraints or unique indexes are dropped or changed:
/// foreign keys that reference them must be dropped first and recreated after.
fn rekeyed_tables(
    ctx: &Ctx<'_>,
    renames: &[(QualifiedName, QualifiedName)],
) -> BTreeSet<QualifiedName> {
    let mut out = BTreeSet::new();
    for (name, old) in &ctx.from.tables {
        let target = renames
            .iter()
            .find(|(f, _)| f == name)
            .map_or(name, |(_, t)| t);
        let Some(new) = ctx.to.tables.get(target) else {
            continue;
        };
        let key_changed = old.constraints.values().any(|c| {
            matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique)
                && new.constraints.get(&c.name).map(|n| &n.definition) != Some(&c.definition)
        }) || old.indexes.values().any(|i| {
            i.unique
                && i.constraint.is_none()
                && new.indexes.get(&i.name).map(|n| &n.definition) != Some(&i.definition)
        });
        if key_changed || target != name {
            out.insert(name.clone());
            out.insert(target.clone());
        }
    }
    out
}

/// Columns whose type changes: foreign keys on them are dropped first and recreated after.
fn retyped_columns(ctx: &Ctx<'_>) -> BTreeSet<(QualifiedName, String)> {
    let mut out = BTreeSet::new();
    for (name, new) in &ctx.to.tables {
        let Some(old) = ctx.from.tables.get(name) else {
            continue;
        };
        for column in &new.columns {
            if old
                .column(&column.name)
                .is_some_and(|c| c.data_type != column.data_type)
            {
                out.insert((name.clone(), column.name.clone()));
            }
        }
    }
    out
}

fn table_key(name: &QualifiedName) -> String {
    format!("table:{name}")
}

/// Tables that must exist before this one: partition parent and inheritance parents.
fn parents(table: &Table) -> Vec<String> {
    table
        .partition_of
        .iter()
        .map(|p| &p.parent)
        .chain(&table.inherits)
        .map(table_key)
        .collect()
}

fn create_table(ctx: &mut Ctx<'_>, table: &Table) {
    let name = &table.name;
    let mut up = vec![sql::create_table(table)];
    up.extend(columns::inherited_column_statements(&ctx.to.tables, table));
    let step = Step::new(
        format!("create table {name}"),
        up,
        vec![sql::drop_table(table)],
    );
    ctx.push(Change::new(Phase::CreateTable, table_key(name), step).after(parents(table)));
    parts::add_all(ctx, name, table_parts(table));
}

fn drop_table(ctx: &mut Ctx<'_>, table: &Table, children: &BTreeMap<QualifiedName, Vec<String>>) {
    let name = &table.name;
    let mut down = vec![sql::create_table(table)];
    down.extend(columns::inherited_column_statements(
        &ctx.from.tables,
        table,
    ));
    let step = Step::new(
        format!("drop table {name}"),
        vec![sql::drop_table(table)],
        down,
    )
    .with_hazards(hazard::drop_table(&name.to_string()));
    // Children (partitions, inheritors) are dropped before their parent.
    let children = children.get(name).cloned().unwrap_or_default();
    let change = Change::new(Phase::DropTable, table_key(name), step).after(children);
    ctx.push(change);
    parts::drop_all(ctx, name, table_parts(table));
    ctx.rebuilt.insert(ObjectRef::Table(name.clone()));
}

fn alter_table(
    ctx: &mut Ctx<'_>,
    old: &Table,
    new: &Table,
    rekeyed: &BTreeSet<QualifiedName>,
    retyped: &BTreeSet<(QualifiedName, String)>,
) {
    if unchanged(old, new, rekeyed, retyped) {
        return;
    }
    let name = &new.name;
    if old.name != new.name {
        rename_table(ctx, old, new);
    }
    alter_storage(ctx, old, new);
    alter_partitioning(ctx, old, new);
    alter_inheritance(ctx, old, new);
    columns::diff_columns(ctx, old, new);
    let rebuild = |p: &parts::Part| {
        p.references.as_ref().is_some_and(|t| rekeyed.contains(t))
            || p.fk_columns.iter().any(|c| retyped.contains(c))
    };
    parts::diff_parts(ctx, name, table_parts(old), table_parts(new), &rebuild);
}

/// A table that is the same on both sides needs no step (and the cost of comparing its
/// parts, which dominates the diff of a large schema), unless one of its foreign keys must be
/// recreated around a change of the key or the columns it references.
fn unchanged(
    old: &Table,
    new: &Table,
    rekeyed: &BTreeSet<QualifiedName>,
    retyped: &BTreeSet<(QualifiedName, String)>,
) -> bool {
    old == new
        && !new.constraints.values().any(|c| {
            c.is_local
                && (c
                    .foreign_key
                    .as_ref()
                    .is_some_and(|fk| rekeyed.contains(&fk.table))
                    || parts::fk_columns(&new.name, c)
                        .iter()
                        .any(|column| retyped.contains(column)))
        })
}

fn rename_table(ctx: &mut Ctx<'_>, old: &Table, new: &Table) {
    let step = Step::new(
        format!("rename table {} to {}", old.name, new.name),
        vec![sql::alter_table(
            &old.name,
            &format!("RENAME TO {}", quote_ident(&new.name.name)),
        )],
        vec![sql::alter_table(
            &new.name,
            &format!("RENAME TO {}", quote_ident(&old.name.name)),
        )],
    );
    ctx.step(Phase::RenameTable, table_key(&new.name), step);
    ctx.rebuilt.insert(ObjectRef::Table(old.name.clone()));
}

fn alter_storage(ctx: &mut Ctx<'_>, old: &Table, new: &Table) {
    let name = &new.name;
    if old.unlogged != new.unlogged {
        let (up, down) = if new.unlogged {
            ("SET UNLOGGED", "SET LOGGED")
        } else {
            ("SET LOGGED", "SET UNLOGGED")
        };
        let step = Step::new(
            format!("{} {name}", up.to_lowercase()),
            vec![sql::alter_table(name, up)],
            vec![sql::alter_table(name, down)],
        )
        .with_hazards(hazard::set_logged(&name.to_string()));
        ctx.step(Phase::AlterTable, table_key(name), step);
    }
    if old.options != new.options {
        let step = Step::new(
            format!("set storage options of {name}"),
            options_change(name, &old.options, &new.options),
            options_change(name, &new.options, &old.options),
        );
        ctx.step(Phase::AlterTable, table_key(name), step);
    }
}

/// `RESET (...)` of options that go away, then `SET (...)` of the new values.
fn options_change(name: &QualifiedName, from: &[String], to: &[String]) -> Vec<String> {
    let key = |o: &String| o.split('=').next().unwrap_or("").to_owned();
    let gone: Vec<String> = from
        .iter()
        .map(key)
        .filter(|k| !to.iter().any(|o| key(o) == *k))
        .collect();
    let mut out = Vec::new();
    if !gone.is_empty() {
        out.push(sql::alter_table(
            name,
            &format!("RESET ({})", gone.join(", ")),
        ));
    }
    if !to.is_empty() {
        out.push(sql::alter_table(name, &format!("SET ({})", to.join(", "))));
    }
    out
}

fn alter_partitioning(ctx: &mut Ctx<'_>, old: &Table, new: &Table) {
    let name = &new.name;
    if old.partition_key != new.partition_key {
        ctx.unsupported.push(format!(
            "partition key of table {name} (the table must be recreated)"
        ));
    }
    if old.partition_of == new.partition_of {
        return;
    }
    let detach = |t: &Table| {
        t.partition_of
            .as_ref()
            .map(|p| sql::alter_table(&p.parent, &format!("DETACH PARTITION {name}")))
    };
    let attach = |t: &Table| {
        t.partition_of
            .as_ref()
            .map(|p| sql::alter_table(&p.parent, &format!("ATTACH PARTITION {name} {}", p.bound)))
    };
    let up: Vec<String> = detach(old).into_iter().chain(attach(new)).collect();
    let down: Vec<String> = detach(new).into_iter().chain(attach(old)).collect();
    let step = Step::new(format!("change partition bound of {name}"), up, down);
    ctx.step(Phase::AlterTable, table_key(name), step);
}

fn alter_inheritance(ctx: &mut Ctx<'_>, old: &Table, new: &Table) {
    let name = &new.name;
    for parent in new.inherits.iter().filter(|p| !old.inherits.contains(p)) {
        let step = Step::new(
            format!("inherit {name} from {parent}"),
            vec![sql::alter_table(name, &format!("INHERIT {parent}"))],
            vec![sql::alter_table(name, &format!("NO INHERIT {parent}"))],
        );
        ctx.step(Phase::AlterTable, table_key(name), step);
    }
    for parent in old.inherits.iter().filter(|p| !new.inherits.contains(p)) {
        let step = Step::new(
            format!("stop inheriting {name} from {parent}"),
            vec![sql::alter_table(name, &format!("NO INHERIT {parent}"))],
            vec![sql::alter_table(name, &format!("INHERIT {parent}"))],
        );
        ctx.step(Phase::AlterTable, table_key(name), step);
    }
}

/// A dropped and an added table in the same schema with the same column names look like a
/// rename: say so, never do it without a hint.
fn suggest_renames(ctx: &mut Ctx<'_>, renamed_from: &BTreeSet<&QualifiedName>) {
    let columns = |t: &Table| -> Vec<String> {
        let mut c: Vec<String> = t.columns.iter().map(|c| c.name.clone()).collect();
        c.sort();
        c
    };
    let mut dropped = std::collections::BTreeMap::new();
    for (name, table) in &ctx.from.tables {
        if !ctx.to.tables.contains_key(name) && !renamed_from.contains(name) {
            dropped.insert((name.schema.clone(), columns(table)), name.clone());
        }
    }
    for (name, table) in &ctx.to.tables {
        if ctx.from.tables.contains_key(name) || table.columns.is_empty() {
            continue;
        }
        if let Some(old) = dropped.get(&(name.schema.clone(), columns(table))) {
            ctx.suggestions.push(format!(
                "table {name} looks like a rename of {old}: add `-- migrated:renamed from={}` on its CREATE TABLE line to rename instead of drop and create",
                quote_ident(&old.name)
            ));
        }
    }
}
