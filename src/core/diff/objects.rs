//! Schemas, extensions, sequences, and the object kinds the engine does not model (reported
//! by name in `Plan::unsupported` when they differ, never ignored).

use std::collections::BTreeSet;

use crate::core::ddl;
use crate::core::diff::{Ctx, Step, sql};
use crate::core::order::Phase;
use crate::core::render::{quote_ident, quote_literal};
use crate::core::schema::{Extension, QualifiedName, Sequence};

pub(crate) fn diff_schemas(ctx: &mut Ctx<'_>) {
    for (name, new) in &ctx.to.schemas {
        let what = format!("SCHEMA {}", quote_ident(name));
        let old_comment = if let Some(old) = ctx.from.schemas.get(name) {
            old.comment.as_deref()
        } else {
            let step = Step::new(
                format!("create schema {}", quote_ident(name)),
                vec![format!("CREATE {what}")],
                vec![format!("DROP {what}")],
            );
            ctx.step(Phase::CreateSchema, format!("schema:{name}"), step);
            None
        };
        if old_comment != new.comment.as_deref() {
            let step = Step::new(
                format!("comment on schema {}", quote_ident(name)),
                vec![sql::comment(&what, new.comment.as_deref())],
                vec![sql::comment(&what, old_comment)],
            );
            ctx.step(Phase::Comment, format!("schema:{name}"), step);
        }
    }
    for (name, old) in &ctx.from.schemas {
        if !ctx.to.schemas.contains_key(name) {
            let what = format!("SCHEMA {}", quote_ident(name));
            let mut down = vec![format!("CREATE {what}")];
            if let Some(c) = &old.comment {
                down.push(sql::comment(&what, Some(c)));
            }
            let step = Step::new(
                format!("drop schema {}", quote_ident(name)),
                vec![format!("DROP {what}")],
                down,
            );
            ctx.step(Phase::DropSchema, format!("schema:{name}"), step);
        }
    }
}

fn create_extension(e: &Extension) -> Vec<String> {
    let mut out = vec![format!(
        "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {} VERSION {}",
        quote_ident(&e.name),
        quote_ident(&e.schema),
        quote_literal(&e.version)
    )];
    if let Some(c) = &e.comment {
        out.push(sql::comment(
            &format!("EXTENSION {}", quote_ident(&e.name)),
            Some(c),
        ));
    }
    out
}

pub(crate) fn diff_extensions(ctx: &mut Ctx<'_>) {
    for (name, new) in &ctx.to.extensions {
        let key = format!("extension:{name}");
        let ident = quote_ident(name);
        match ctx.from.extensions.get(name) {
            None => {
                let step = Step::new(
                    format!("create extension {ident}"),
                    create_extension(new),
                    vec![format!("DROP EXTENSION {ident}")],
                );
                ctx.step(Phase::CreateExtension, key, step);
            }
            Some(old) if old != new => {
                // There is rarely an update path back to an older version: recreate it.
                let down = if old.version == new.version {
                    alter_extension(new, old)
                } else {
                    let mut down = vec![format!("DROP EXTENSION {ident}")];
                    down.extend(create_extension(old));
                    down
                };
                let step = Step::new(
                    format!("alter extension {ident}"),
                    alter_extension(old, new),
                    down,
                );
                ctx.step(Phase::CreateExtension, key, step);
            }
            Some(_) => {}
        }
    }
    for (name, old) in &ctx.from.extensions {
        if !ctx.to.extensions.contains_key(name) {
            let ident = quote_ident(name);
            let step = Step::new(
                format!("drop extension {ident}"),
                vec![format!("DROP EXTENSION {ident}")],
                create_extension(old),
            );
            ctx.step(Phase::DropExtension, format!("extension:{name}"), step);
        }
    }
}

fn alter_extension(from: &Extension, to: &Extension) -> Vec<String> {
    let ident = quote_ident(&to.name);
    let mut out = Vec::new();
    if from.schema != to.schema {
        out.push(format!(
            "ALTER EXTENSION {ident} SET SCHEMA {}",
            quote_ident(&to.schema)
        ));
    }
    if from.version != to.version {
        out.push(format!(
            "ALTER EXTENSION {ident} UPDATE TO {}",
            quote_literal(&to.version)
        ));
    }
    if from.comment != to.comment {
        out.push(sql::comment(
            &format!("EXTENSION {ident}"),
            to.comment.as_deref(),
        ));
    }
    out
}

fn create_sequence(s: &Sequence) -> Vec<String> {
    ddl::create_sequence(s)
}

fn owned_by(s: &Sequence) -> String {
    match &s.owned_by {
        Some((table, column)) => format!(
            "ALTER SEQUENCE {} OWNED BY {table}.{}",
            s.name,
            quote_ident(column)
        ),
        None => format!("ALTER SEQUENCE {} OWNED BY NONE", s.name),
    }
}

fn seq_key(name: &QualifiedName) -> String {
    format!("sequence:{name}")
}

pub(crate) fn diff_sequences(ctx: &mut Ctx<'_>) {
    for (name, new) in &ctx.to.sequences {
        match ctx.from.sequences.get(name) {
            None => {
                let step = Step::new(
                    format!("create sequence {name}"),
                    create_sequence(new),
                    vec![format!("DROP SEQUENCE {name}")],
                );
                ctx.step(Phase::CreateSequence, seq_key(name), step);
                if new.owned_by.is_some() {
                    acquire_owner(ctx, new);
                }
            }
            Some(old) => alter_sequence(ctx, old, new),
        }
    }
    for (name, old) in &ctx.from.sequences {
        if !ctx.to.sequences.contains_key(name) {
            if old.owned_by.is_some() {
                release_owner(ctx, old);
            }
            let step = Step::new(
                format!("drop sequence {name}"),
                vec![format!("DROP SEQUENCE {name}")],
                create_sequence(old),
            );
            ctx.step(Phase::DropSequence, seq_key(name), step);
        }
    }
}

/// A sequence loses its owner before tables are dropped (so it survives an owner that goes
/// away) and gains one after tables are created.
fn release_owner(ctx: &mut Ctx<'_>, old: &Sequence) {
    let none = Sequence {
        owned_by: None,
        ..old.clone()
    };
    let step = Step::new(
        format!("release sequence {} from its owner", old.name),
        vec![owned_by(&none)],
        vec![owned_by(old)],
    );
    ctx.step(Phase::DropConstraint, seq_key(&old.name), step);
}

fn acquire_owner(ctx: &mut Ctx<'_>, new: &Sequence) {
    let none = Sequence {
        owned_by: None,
        ..new.clone()
    };
    let step = Step::new(
        format!("set owner of sequence {}", new.name),
        vec![owned_by(new)],
        vec![owned_by(&none)],
    );
    ctx.step(Phase::AddConstraint, seq_key(&new.name), step);
}

fn alter_sequence(ctx: &mut Ctx<'_>, old: &Sequence, new: &Sequence) {
    let name = &new.name;
    if old.options != new.options {
        let alter = |s: &Sequence| {
            format!(
                "ALTER SEQUENCE {name} {}",
                sql::sequence_options(&s.options, true)
            )
        };
        let step = Step::new(
            format!("alter sequence {name}"),
            vec![alter(new)],
            vec![alter(old)],
        );
        ctx.step(Phase::CreateSequence, seq_key(name), step);
    }
    if old.unlogged != new.unlogged {
        let set = |s: &Sequence| {
            format!(
                "ALTER SEQUENCE {name} SET {}",
                if s.unlogged { "UNLOGGED" } else { "LOGGED" }
            )
        };
        let step = Step::new(
            format!("change logging of sequence {name}"),
            vec![set(new)],
            vec![set(old)],
        );
        ctx.step(Phase::CreateSequence, seq_key(name), step);
    }
    if old.owned_by != new.owned_by {
        if old.owned_by.is_some() {
            release_owner(ctx, old);
        }
        if new.owned_by.is_some() {
            acquire_owner(ctx, new);
        }
    }
    if old.comment != new.comment {
        let what = format!("SEQUENCE {name}");
        let step = Step::new(
            format!("comment on sequence {name}"),
            vec![sql::comment(&what, new.comment.as_deref())],
            vec![sql::comment(&what, old.comment.as_deref())],
        );
        ctx.step(Phase::Comment, seq_key(name), step);
    }
}

/// Objects of kinds the engine does not model: any addition, removal or change is reported.
pub(crate) fn diff_unsupported(ctx: &mut Ctx<'_>) {
    let from: BTreeSet<_> = ctx.from.unsupported.iter().collect();
    let to: BTreeSet<_> = ctx.to.unsupported.iter().collect();
    let names: BTreeSet<String> = from
        .symmetric_difference(&to)
        .map(|o| format!("{} {}", o.kind, o.name))
        .collect();
    ctx.unsupported.extend(names);
}
