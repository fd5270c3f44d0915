//! Functions, procedures and triggers. A function whose signature and result stay the same
//! is replaced in place (`CREATE OR REPLACE`); otherwise it is dropped and created, and the
//! triggers and views that use it are recreated with it.

use crate::core::ddl;
use crate::core::diff::{Ctx, Step, sql};
use crate::core::order::{Change, Phase};
use crate::core::schema::{Function, FunctionKind, ObjectRef, Trigger, TriggerKey};

/// Bodies are checked when the tables they read exist, not at creation (pg_dump does this).
const NO_BODY_CHECK: &str = "SET check_function_bodies = false";

fn fn_key(f: &Function) -> String {
    format!("function:{}", f.key)
}

fn kind_word(f: &Function) -> &'static str {
    match f.kind {
        FunctionKind::Procedure => "PROCEDURE",
        _ => "FUNCTION",
    }
}

/// Functions whose body is parsed at creation and reads tables (SQL-standard bodies).
fn reads_tables(f: &Function) -> bool {
    f.definition.contains("BEGIN ATOMIC")
        || f.depends_on
            .iter()
            .any(|d| matches!(d, ObjectRef::Table(_) | ObjectRef::View(_)))
            && f.language == "sql"
}

fn create_function(f: &Function) -> Vec<String> {
    let mut out = vec![NO_BODY_CHECK.to_owned()];
    out.extend(ddl::create_function(f));
    out
}

fn drop_function(f: &Function) -> Vec<String> {
    vec![ddl::drop_function(f)]
}

pub(crate) fn diff_functions(ctx: &mut Ctx<'_>) {
    for (key, new) in &ctx.to.functions {
        match ctx.from.functions.get(key) {
            None => add(ctx, new),
            Some(old) if old.definition != new.definition || old.kind != new.kind => {
                replace(ctx, old, new);
            }
            Some(old) if old.comment != new.comment => {
                let what = format!("{} {}", kind_word(new), new.key);
                let step = Step::new(
                    format!("comment on {}", new.key),
                    vec![sql::comment(&what, new.comment.as_deref())],
                    vec![sql::comment(&what, old.comment.as_deref())],
                );
                ctx.step(Phase::Comment, fn_key(new), step);
            }
            Some(_) => {}
        }
    }
    for (key, old) in &ctx.from.functions {
        if !ctx.to.functions.contains_key(key) {
            let phase = if reads_tables(old) {
                Phase::DropLateFunction
            } else {
                Phase::DropFunction
            };
            let step = Step::new(
                format!("drop {} {key}", kind_word(old).to_lowercase()),
                drop_function(old),
                create_function(old),
            );
            // Functions that call this one are dropped first.
            let callers: Vec<String> = ctx
                .from
                .functions
                .values()
                .filter(|f| f.depends_on.contains(&ObjectRef::Function(key.clone())))
                .map(fn_key)
                .collect();
            ctx.push(Change::new(phase, fn_key(old), step).after(callers));
        }
    }
}

fn function_deps(f: &Function) -> Vec<String> {
    f.depends_on
        .iter()
        .filter_map(|d| match d {
            ObjectRef::Function(k) => Some(format!("function:{k}")),
            _ => None,
        })
        .collect()
}

fn add(ctx: &mut Ctx<'_>, f: &Function) {
    let phase = if reads_tables(f) {
        Phase::CreateLateFunction
    } else {
        Phase::CreateFunction
    };
    let step = Step::new(
        format!("create {} {}", kind_word(f).to_lowercase(), f.key),
        create_function(f),
        drop_function(f),
    );
    ctx.push(Change::new(phase, fn_key(f), step).after(function_deps(f)));
}

fn replace(ctx: &mut Ctx<'_>, old: &Function, new: &Function) {
    let in_place = old.kind == new.kind
        && old.arguments == new.arguments
        && old.return_type == new.return_type;
    let (up, down) = if in_place {
        (create_function(new), create_function(old))
    } else {
        ctx.rebuilt_functions.insert(new.key.clone());
        ctx.rebuilt.insert(ObjectRef::Function(new.key.clone()));
        let up = drop_function(old)
            .into_iter()
            .chain(create_function(new))
            .collect();
        let down = drop_function(new)
            .into_iter()
            .chain(create_function(old))
            .collect();
        (up, down)
    };
    let mut up = up;
    let mut down = down;
    // CREATE OR REPLACE keeps the old comment when the new one is gone.
    if in_place && old.comment.is_some() && new.comment.is_none() {
        up.push(sql::comment(
            &format!("{} {}", kind_word(new), new.key),
            None,
        ));
    }
    if in_place && new.comment.is_some() && old.comment.is_none() {
        down.push(sql::comment(
            &format!("{} {}", kind_word(old), old.key),
            None,
        ));
    }
    let phase = if reads_tables(new) {
        Phase::CreateLateFunction
    } else {
        Phase::CreateFunction
    };
    let step = Step::new(
        format!("replace {} {}", kind_word(new).to_lowercase(), new.key),
        up,
        down,
    );
    ctx.push(Change::new(phase, fn_key(new), step).after(function_deps(new)));
}

fn trigger_key(key: &TriggerKey) -> String {
    format!("trigger:{key}")
}

fn create_trigger(t: &Trigger) -> Vec<String> {
    ddl::create_trigger(t)
}

fn drop_trigger(t: &Trigger) -> Vec<String> {
    vec![ddl::drop_trigger(t)]
}

/// Triggers run after functions and views exist; a trigger whose function or view is
/// recreated is recreated too.
pub(crate) fn diff_triggers(ctx: &mut Ctx<'_>) {
    for (key, new) in &ctx.to.triggers {
        let rebuilt = ctx.rebuilt_functions.contains(&new.function)
            || ctx.rebuilt.contains(&ObjectRef::View(new.table.clone()));
        match ctx.from.triggers.get(key) {
            Some(old) if old == new && !rebuilt => {}
            Some(old) => {
                drop(ctx, old);
                add_trigger(ctx, new);
            }
            None => add_trigger(ctx, new),
        }
    }
    for (key, old) in &ctx.from.triggers {
        if !ctx.to.triggers.contains_key(key) {
            drop(ctx, old);
        }
    }
}

fn add_trigger(ctx: &mut Ctx<'_>, t: &Trigger) {
    let key = TriggerKey {
        table: t.table.clone(),
        name: t.name.clone(),
    };
    let step = Step::new(
        format!("create trigger {key}"),
        create_trigger(t),
        drop_trigger(t),
    );
    ctx.step(Phase::CreateTrigger, trigger_key(&key), step);
}

fn drop(ctx: &mut Ctx<'_>, t: &Trigger) {
    let key = TriggerKey {
        table: t.table.clone(),
        name: t.name.clone(),
    };
    let step = Step::new(
        format!("drop trigger {key}"),
        drop_trigger(t),
        create_trigger(t),
    );
    ctx.step(Phase::DropTrigger, trigger_key(&key), step);
}
