//! A table seen as separately creatable parts (constraints, indexes, policies, RLS flags,
//! comments), each with the statements that create and drop it and the phases they run in.
//! Creating a table is creating its parts, dropping one is dropping them (so the down script
//! restores every part), and an altered table diffs its parts by key.

use std::collections::BTreeMap;

use crate::core::ddl;
use crate::core::diff::{Ctx, Step};
use crate::core::diff::{canonical_expression, sql};
use crate::core::hazard::{self, Hazard};
use crate::core::order::{Change, Phase};
use crate::core::render::quote_ident;
use crate::core::schema::{Constraint, ConstraintKind, Index, Policy, QualifiedName, Table};

/// One part of a table.
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub(crate) summary: String,
    pub(crate) create_phase: Phase,
    pub(crate) drop_phase: Phase,
    pub(crate) create: Vec<String>,
    pub(crate) drop: Vec<String>,
    /// Name-independent identity of the definition, to tell "changed" from "same".
    pub(crate) fingerprint: String,
    /// Hazards of creating it on a table that already holds rows.
    pub(crate) create_hazards: Vec<Hazard>,
    /// The table a foreign key references (rebuilt when that table's keys change).
    pub(crate) references: Option<QualifiedName>,
    /// A foreign key's columns on both sides (rebuilt when one changes type).
    pub(crate) fk_columns: Vec<(QualifiedName, String)>,
    /// Changing it is one statement (a comment), not a drop and a create.
    pub(crate) in_place: bool,
}

/// Every part of `table`, keyed by kind and name.
pub(crate) fn table_parts(table: &Table) -> BTreeMap<String, Part> {
    let name = &table.name;
    let mut parts = BTreeMap::new();
    for c in table.constraints.values().filter(|c| c.is_local) {
        parts.insert(format!("constraint:{}", c.name), constraint_part(name, c));
    }
    for index in table
        .indexes
        .values()
        .filter(|i| i.constraint.is_none() && i.parent_index.is_none())
    {
        parts.insert(format!("index:{}", index.name), index_part(name, index));
    }
    for policy in table.policies.values() {
        parts.insert(format!("policy:{}", policy.name), policy_part(name, policy));
    }
    rls_parts(table, &mut parts);
    comment_parts(table, &mut parts);
    parts
}

fn constraint_part(table: &QualifiedName, c: &Constraint) -> Part {
    let fk = c.kind == ConstraintKind::ForeignKey;
    let object = format!("{table}.{}", quote_ident(&c.name));
    let what = match c.kind {
        ConstraintKind::ForeignKey => "a FOREIGN KEY",
        ConstraintKind::Check => "a CHECK constraint",
        _ => "a unique index",
    };
    let mut create_hazards = if c.kind == ConstraintKind::Check || fk {
        hazard::validation_scan(&object, what)
    } else {
        hazard::index_build(&object)
    };
    if !c.validated {
        create_hazards.clear();
    }
    Part {
        summary: format!("constraint {object}"),
        create_phase: if fk {
            Phase::AddForeignKey
        } else {
            Phase::AddConstraint
        },
        drop_phase: if fk {
            Phase::DropForeignKey
        } else {
            Phase::DropConstraint
        },
        create: sql::add_constraint(table, c),
        drop: sql::drop_constraint(table, c),
        fingerprint: format!(
            "{:?}",
            (c.kind, canonical_expression(&c.definition), &c.comment)
        ),
        create_hazards,
        references: c.foreign_key.as_ref().map(|f| f.table.clone()),
        fk_columns: fk_columns(table, c),
        in_place: false,
    }
}

pub(crate) fn fk_columns(table: &QualifiedName, c: &Constraint) -> Vec<(QualifiedName, String)> {
    let Some(fk) = &c.foreign_key else {
        return Vec::new();
    };
    let local = c.columns.iter().map(|col| (table.clone(), col.clone()));
    let remote = fk.columns.iter().map(|col| (fk.table.clone(), col.clone()));
    local.chain(remote).collect()
}

fn index_part(table: &QualifiedName, index: &Index) -> Part {
    let object = QualifiedName::new(&table.schema, &index.name).to_string();
    // The definition names the table: compare without it, so a renamed table keeps its index.
    let definition = canonical_expression(&index.definition.replace(&table.to_string(), ""));
    Part {
        summary: format!("index {object}"),
        create_phase: Phase::CreateIndex,
        drop_phase: Phase::DropIndex,
        create: sql::create_index(table, index),
        drop: sql::drop_index(table, index),
        fingerprint: format!("{:?}", (definition, &index.comment)),
        create_hazards: hazard::index_build(&object),
        references: None,
        fk_columns: Vec::new(),
        in_place: false,
    }
}

fn policy_part(table: &QualifiedName, p: &Policy) -> Part {
    let create = ddl::create_policy(table, p);
    Part {
        summary: format!("policy {} on {table}", quote_ident(&p.name)),
        create_phase: Phase::CreatePolicy,
        drop_phase: Phase::DropPolicy,
        create,
        drop: vec![ddl::drop_policy(table, &p.name)],
        fingerprint: format!(
            "{:?}",
            (
                p.permissive,
                p.command,
                &p.roles,
                &p.using,
                &p.with_check,
                &p.comment
            )
        ),
        create_hazards: Vec::new(),
        references: None,
        fk_columns: Vec::new(),
        in_place: false,
    }
}

fn flag_part(table: &QualifiedName, summary: &str, on: &str, off: &str) -> Part {
    Part {
        summary: format!("{summary} on {table}"),
        create_phase: Phase::CreatePolicy,
        drop_phase: Phase::DropPolicy,
        create: vec![sql::alter_table(table, on)],
        drop: vec![sql::alter_table(table, off)],
        fingerprint: String::new(),
        create_hazards: Vec::new(),
        references: None,
        fk_columns: Vec::new(),
        in_place: false,
    }
}

fn rls_parts(table: &Table, parts: &mut BTreeMap<String, Part>) {
    let name = &table.name;
    if table.rls_enabled {
        let part = flag_part(
            name,
            "row level security",
            "ENABLE ROW LEVEL SECURITY",
            "DISABLE ROW LEVEL SECURITY",
        );
        parts.insert("rls".into(), part);
    }
    if table.rls_forced {
        let part = flag_part(
            name,
            "forced row level security",
            "FORCE ROW LEVEL SECURITY",
            "NO FORCE ROW LEVEL SECURITY",
        );
        parts.insert("rls_forced".into(), part);
    }
}

fn comment_part(what: &str, summary: String, text: &str) -> Part {
    Part {
        summary,
        create_phase: Phase::Comment,
        drop_phase: Phase::DropTrigger,
        create: vec![sql::comment(what, Some(text))],
        drop: vec![sql::comment(what, None)],
        fingerprint: text.to_owned(),
        create_hazards: Vec::new(),
        references: None,
        fk_columns: Vec::new(),
        in_place: true,
    }
}

fn comment_parts(table: &Table, parts: &mut BTreeMap<String, Part>) {
    let name = &table.name;
    if let Some(text) = &table.comment {
        let part = comment_part(&format!("TABLE {name}"), format!("comment on {name}"), text);
        parts.insert("comment".into(), part);
    }
    for column in &table.columns {
        if let Some(text) = &column.comment {
            let col = format!("{name}.{}", quote_ident(&column.name));
            let part = comment_part(&format!("COLUMN {col}"), format!("comment on {col}"), text);
            parts.insert(format!("comment:column:{}", column.name), part);
        }
    }
}

/// Creates every part (a new table: no hazards, it holds no rows).
pub(crate) fn add_all(ctx: &mut Ctx<'_>, table: &QualifiedName, parts: BTreeMap<String, Part>) {
    for (key, mut part) in parts {
        part.create_hazards.clear();
        add(ctx, table, &key, part);
    }
}

/// Drops every part (a dropped table: the down script recreates them).
pub(crate) fn drop_all(ctx: &mut Ctx<'_>, table: &QualifiedName, parts: BTreeMap<String, Part>) {
    for (key, part) in parts {
        remove(ctx, table, &key, part);
    }
}

fn add(ctx: &mut Ctx<'_>, table: &QualifiedName, key: &str, part: Part) {
    let step = Step::new(format!("add {}", part.summary), part.create, part.drop)
        .with_hazards(part.create_hazards);
    let after = part.references.map(|t| format!("table:{t}"));
    ctx.push(Change::new(part.create_phase, format!("{table}:{key}"), step).after(after));
}

fn remove(ctx: &mut Ctx<'_>, table: &QualifiedName, key: &str, part: Part) {
    let step = Step::new(format!("drop {}", part.summary), part.drop, part.create);
    ctx.push(Change::new(part.drop_phase, format!("{table}:{key}"), step));
}

/// Diffs the parts of a table that exists on both sides. `rebuild` says whether an unchanged
/// part must be recreated anyway (a foreign key whose referenced key or columns change).
pub(crate) fn diff_parts(
    ctx: &mut Ctx<'_>,
    table: &QualifiedName,
    from: BTreeMap<String, Part>,
    mut to: BTreeMap<String, Part>,
    rebuild: &dyn Fn(&Part) -> bool,
) {
    for (key, old) in from {
        match to.remove(&key) {
            None => remove(ctx, table, &key, old),
            Some(new) if new.fingerprint == old.fingerprint => {
                if rebuild(&old) {
                    remove(ctx, table, &key, old);
                    add(ctx, table, &key, new);
                }
            }
            Some(new) if new.in_place => {
                let step = Step::new(format!("change {}", new.summary), new.create, old.create);
                ctx.step(new.create_phase, format!("{table}:{key}"), step);
            }
            Some(new) => {
                remove(ctx, table, &key, old);
                add(ctx, table, &key, new);
            }
        }
    }
    for (key, new) in to {
        add(ctx, table, &key, new);
    }
}
