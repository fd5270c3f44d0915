//! Views and materialized views. A changed view, or one that reads a relation, type or
//! function being rebuilt (transitively), is dropped before the tables change and created
//! after them, with its indexes (materialized) and comments.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::ddl;
use crate::core::diff::view_columns::only_appends;
use crate::core::diff::{Ctx, Step, sql};
use crate::core::order::{Change, Phase};
use crate::core::render::quote_ident;
use crate::core::schema::{ObjectRef, QualifiedName, View};

fn view_key(name: &QualifiedName) -> String {
    format!("view:{name}")
}

fn kind(v: &View) -> &'static str {
    if v.materialized {
        "MATERIALIZED VIEW"
    } else {
        "VIEW"
    }
}

fn create_view(v: &View) -> Vec<String> {
    let mut out = ddl::create_view(v, true);
    for index in v.indexes.values() {
        out.extend(ddl::create_index(&v.name.schema, index));
    }
    out
}

fn comments(v: &View) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(c) = &v.comment {
        out.push(sql::comment(&format!("{} {}", kind(v), v.name), Some(c)));
    }
    for (column, c) in &v.column_comments {
        out.push(sql::comment(
            &format!("COLUMN {}.{}", v.name, quote_ident(column)),
            Some(c),
        ));
    }
    out
}

fn drop_view(v: &View) -> Vec<String> {
    vec![ddl::drop_view(v)]
}

fn view_deps(v: &View) -> Vec<String> {
    v.depends_on
        .iter()
        .filter_map(|d| match d {
            ObjectRef::View(n) => Some(view_key(n)),
            _ => None,
        })
        .collect()
}

/// Views of `from` that must be dropped: removed, changed, or reading something rebuilt.
fn rebuilt_views(ctx: &Ctx<'_>) -> BTreeSet<QualifiedName> {
    let mut dependents: BTreeMap<&ObjectRef, Vec<&QualifiedName>> = BTreeMap::new();
    for v in ctx.from.views.values() {
        for d in &v.depends_on {
            dependents.entry(d).or_default().push(&v.name);
        }
    }
    let mut out: BTreeSet<QualifiedName> = ctx
        .from
        .views
        .values()
        .filter(|v| {
            ctx.to.views.get(&v.name).is_none_or(|n| {
                let has_dependents = dependents.contains_key(&ObjectRef::View(v.name.clone()));
                !same_query(v, n) && (has_dependents || !replaceable(v, n))
            })
        })
        .map(|v| v.name.clone())
        .collect();
    let mut queue: Vec<ObjectRef> = ctx.rebuilt.iter().cloned().collect();
    queue.extend(out.iter().map(|n| ObjectRef::View(n.clone())));
    while let Some(r) = queue.pop() {
        for name in dependents.get(&r).into_iter().flatten() {
            if out.insert((*name).clone()) {
                queue.push(ObjectRef::View((*name).clone()));
            }
        }
    }
    out
}

/// A plain view whose new query keeps the old columns and appends some: `CREATE OR
/// REPLACE VIEW` changes it in place.
fn replaceable(old: &View, new: &View) -> bool {
    !old.materialized
        && !new.materialized
        && old.options == new.options
        && only_appends(&old.definition, &new.definition)
}

fn same_query(a: &View, b: &View) -> bool {
    a.materialized == b.materialized && a.definition == b.definition && a.options == b.options
}

pub(crate) fn diff_views(ctx: &mut Ctx<'_>) {
    let rebuilt = rebuilt_views(ctx);
    for name in &rebuilt {
        ctx.rebuilt.insert(ObjectRef::View(name.clone()));
    }
    for (name, new) in &ctx.to.views {
        match ctx.from.views.get(name) {
            Some(old) if !rebuilt.contains(name) => {
                if !same_query(old, new) {
                    replace_view(ctx, old, new);
                }
                alter_view(ctx, old, new);
            }
            _ => {
                let step = Step::new(
                    format!("create {} {name}", kind(new).to_lowercase()),
                    create_view(new),
                    drop_view(new),
                );
                ctx.push(
                    Change::new(Phase::CreateView, view_key(name), step).after(view_deps(new)),
                );
            }
        }
    }
    for name in &rebuilt {
        let old = &ctx.from.views[name];
        // Dependents are dropped first: this drop waits for theirs.
        let dependents: Vec<String> = ctx
            .from
            .views
            .values()
            .filter(|v| v.depends_on.contains(&ObjectRef::View(name.clone())))
            .map(|v| view_key(&v.name))
            .collect();
        let step = Step::new(
            format!("drop {} {name}", kind(old).to_lowercase()),
            drop_view(old),
            create_view(old),
        );
        ctx.push(Change::new(Phase::DropView, view_key(name), step).after(dependents));
    }
}

/// `CREATE OR REPLACE VIEW` with the appended columns; undone by recreating the old view
/// (a view cannot lose columns in place).
fn replace_view(ctx: &mut Ctx<'_>, old: &View, new: &View) {
    let name = &new.name;
    let create = ddl::create_view(new, true);
    let up = vec![create[0].replacen("CREATE VIEW", "CREATE OR REPLACE VIEW", 1)];
    let mut down = drop_view(new);
    down.extend(ddl::create_view(old, true));
    let step = Step::new(format!("replace view {name}"), up, down);
    ctx.push(Change::new(Phase::CreateView, view_key(name), step).after(view_deps(new)));
}

/// Comments and materialized-view indexes (the query itself is handled by the caller).
fn alter_view(ctx: &mut Ctx<'_>, old: &View, new: &View) {
    let name = &new.name;
    if old.comment != new.comment || old.column_comments != new.column_comments {
        let clear = |v: &View| {
            let mut out = vec![sql::comment(&format!("{} {}", kind(v), v.name), None)];
            out.extend(
                v.column_comments
                    .keys()
                    .map(|c| sql::comment(&format!("COLUMN {}.{}", v.name, quote_ident(c)), None)),
            );
            out
        };
        let up = clear(old).into_iter().chain(comments(new)).collect();
        let down = clear(new).into_iter().chain(comments(old)).collect();
        ctx.step(
            Phase::Comment,
            view_key(name),
            Step::new(format!("comments on {name}"), up, down),
        );
    }
    for (index_name, index) in &old.indexes {
        if new.indexes.get(index_name) != Some(index) {
            let step = Step::new(
                format!("drop index {index_name} on {name}"),
                sql::drop_index(name, index),
                sql::create_index(name, index),
            );
            ctx.step(Phase::DropIndex, format!("{name}:index:{index_name}"), step);
        }
    }
    for (index_name, index) in &new.indexes {
        if old.indexes.get(index_name) != Some(index) {
            let step = Step::new(
                format!("create index {index_name} on {name}"),
                sql::create_index(name, index),
                sql::drop_index(name, index),
            );
            ctx.step(
                Phase::CreateIndex,
                format!("{name}:index:{index_name}"),
                step,
            );
        }
    }
}
