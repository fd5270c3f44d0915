//! Enum, domain and composite types. New enum values are added in place (`ADD VALUE`, no
//! rewrite); removed or reordered values rename the old type away, create the new one, convert
//! the columns (`USING col::text::type`) and drop the old type.

use std::collections::BTreeMap;

use crate::core::ddl;
use crate::core::diff::{Ctx, Step, sql};
use crate::core::hazard;
use crate::core::order::{Change, Phase};
use crate::core::render::{quote_ident, quote_literal};

use crate::core::schema::{CompositeType, Domain, EnumType, ObjectRef, QualifiedName, Table};

pub(crate) fn diff_types(ctx: &mut Ctx<'_>) {
    for (name, new) in &ctx.to.enums {
        match ctx.from.enums.get(name) {
            None => create(ctx, name, create_enum(new), "TYPE", vec![]),
            Some(old) if old.values != new.values => alter_enum(ctx, old, new),
            Some(old) => comment(
                ctx,
                "TYPE",
                name,
                old.comment.as_ref(),
                new.comment.as_ref(),
            ),
        }
    }
    for (name, old) in &ctx.from.enums {
        if !ctx.to.enums.contains_key(name) {
            drop(ctx, name, create_enum(old), "TYPE");
        }
    }
    diff_domains(ctx);
    diff_composites(ctx);
}

fn type_key(name: &QualifiedName) -> String {
    format!("type:{name}")
}

fn type_deps(depends_on: &[ObjectRef]) -> Vec<String> {
    depends_on
        .iter()
        .filter_map(|d| match d {
            ObjectRef::Type(t) => Some(type_key(t)),
            _ => None,
        })
        .collect()
}

/// Whether a type uses functions (so it is created after them and dropped before them).
fn uses_functions(depends_on: &[ObjectRef]) -> bool {
    depends_on
        .iter()
        .any(|d| matches!(d, ObjectRef::Function(_)))
}

fn create(
    ctx: &mut Ctx<'_>,
    name: &QualifiedName,
    create: Vec<String>,
    kind: &str,
    after: Vec<String>,
) {
    let late = ctx
        .to
        .domains
        .get(name)
        .is_some_and(|d| uses_functions(&d.depends_on));
    let step = Step::new(
        format!("create {} {name}", kind.to_lowercase()),
        create,
        vec![format!("DROP {kind} {name}")],
    );
    let phase = if late {
        Phase::CreateLateType
    } else {
        Phase::CreateType
    };
    ctx.push(Change::new(phase, type_key(name), step).after(after));
}

fn drop(ctx: &mut Ctx<'_>, name: &QualifiedName, create: Vec<String>, kind: &str) {
    let step = Step::new(
        format!("drop {} {name}", kind.to_lowercase()),
        vec![format!("DROP {kind} {name}")],
        create,
    );
    let late = ctx
        .from
        .domains
        .get(name)
        .is_some_and(|d| uses_functions(&d.depends_on));
    let phase = if late {
        Phase::DropLateType
    } else {
        Phase::DropType
    };
    ctx.step(phase, type_key(name), step);
}

fn comment(
    ctx: &mut Ctx<'_>,
    kind: &str,
    name: &QualifiedName,
    old: Option<&String>,
    new: Option<&String>,
) {
    if old != new {
        let what = format!("{kind} {name}");
        let step = Step::new(
            format!("comment on {} {name}", kind.to_lowercase()),
            vec![sql::comment(&what, new.map(String::as_str))],
            vec![sql::comment(&what, old.map(String::as_str))],
        );
        ctx.step(Phase::Comment, type_key(name), step);
    }
}

fn create_enum(e: &EnumType) -> Vec<String> {
    ddl::create_enum(e)
}

/// Whether `old` is `new` with some values left out, in the same order.
fn is_subsequence(old: &[String], new: &[String]) -> bool {
    let mut it = new.iter();
    old.iter().all(|v| it.any(|n| n == v))
}

fn alter_enum(ctx: &mut Ctx<'_>, old: &EnumType, new: &EnumType) {
    if is_subsequence(&old.values, &new.values) {
        add_values(ctx, old, new);
    } else {
        recreate_enum(ctx, old, new);
    }
    comment(
        ctx,
        "TYPE",
        &new.name,
        old.comment.as_ref(),
        new.comment.as_ref(),
    );
}

/// `ALTER TYPE ... ADD VALUE` for each new value; undone by recreating the type.
fn add_values(ctx: &mut Ctx<'_>, old: &EnumType, new: &EnumType) {
    let mut up = Vec::new();
    for (i, value) in new.values.iter().enumerate() {
        if old.values.contains(value) {
            continue;
        }
        let position = match new.values[i + 1..].iter().find(|v| old.values.contains(v)) {
            Some(next) => format!(" BEFORE {}", quote_literal(next)),
            None => String::new(),
        };
        up.push(format!(
            "ALTER TYPE {} ADD VALUE {}{position}",
            new.name,
            quote_literal(value)
        ));
    }
    // Undone late in the down script, when the tables are back in their `from` state.
    let (down, _) = recreate_statements(&ctx.from.tables, new, old);
    let mut step = Step::new(format!("add values to enum {}", new.name), up, down);
    // A value added in a transaction cannot be used before it commits.
    step.no_transaction = new
        .values
        .iter()
        .filter(|v| !old.values.contains(v))
        .any(|v| value_used(ctx, v));
    ctx.step(Phase::CreateType, type_key(&new.name), step);
    ctx.rebuilt.insert(ObjectRef::Type(new.name.clone()));
}

/// Whether the desired schema uses the literal `value` in a default or constraint.
fn value_used(ctx: &Ctx<'_>, value: &str) -> bool {
    let needle = format!("{}::", quote_literal(value));
    ctx.to.tables.values().any(|t| {
        t.columns
            .iter()
            .any(|c| c.default.as_ref().is_some_and(|d| d.contains(&needle)))
            || t.constraints
                .values()
                .any(|c| c.definition.contains(&needle))
            || t.indexes.values().any(|i| i.definition.contains(&needle))
    }) || ctx
        .to
        .views
        .values()
        .any(|v| v.definition.contains(&needle))
}

fn temp_name(name: &QualifiedName) -> QualifiedName {
    QualifiedName::new(&name.schema, format!("{}__migrated_old", name.name))
}

/// Whether a column's `format_type` text names the type (`mood`, `public.mood`, `mood[]`);
/// returns the array suffix when it does.
pub(crate) fn refers_to(data_type: &str, name: &QualifiedName) -> Option<&'static str> {
    let (base, suffix) = match data_type.strip_suffix("[]") {
        Some(base) => (base, "[]"),
        None => (data_type, ""),
    };
    let bare = quote_ident(&name.name);
    (base == name.to_string() || base == bare).then_some(suffix)
}

/// Statements that turn the type `from` into `to` by recreation: rename the old one away,
/// create the new, convert every column of the current tables, drop the old one.
fn recreate_statements(
    tables: &BTreeMap<QualifiedName, Table>,
    from: &EnumType,
    to: &EnumType,
) -> (Vec<String>, Vec<String>) {
    let old = temp_name(&from.name);
    let mut up = vec![format!(
        "ALTER TYPE {} RENAME TO {}",
        from.name,
        quote_ident(&old.name)
    )];
    up.extend(create_enum(to));
    let mut columns = Vec::new();
    for table in tables.values() {
        for column in table.columns.iter().filter(|c| c.is_local) {
            if let Some(array) = refers_to(&column.data_type, &from.name) {
                let table = &table.name;
                let c = &column.name;
                if column.default.is_some() {
                    up.push(sql::alter_column(table, c, "DROP DEFAULT"));
                }
                up.push(sql::alter_column(
                    table,
                    c,
                    &format!(
                        "TYPE {}{array} USING {}::text{array}::{}{array}",
                        to.name,
                        quote_ident(c),
                        to.name
                    ),
                ));
                if let Some(d) = &column.default {
                    up.push(sql::alter_column(table, c, &format!("SET DEFAULT {d}")));
                }
                columns.push(format!("{table}.{}", quote_ident(c)));
            }
        }
    }
    up.push(format!("DROP TYPE {old}"));
    (up, columns)
}

fn recreate_enum(ctx: &mut Ctx<'_>, old: &EnumType, new: &EnumType) {
    // Runs after the tables are altered, so both directions see the `to` tables.
    let (up, columns) = recreate_statements(&ctx.to.tables, old, new);
    let (down, _) = recreate_statements(&ctx.to.tables, new, old);
    let removed: Vec<String> = old
        .values
        .iter()
        .filter(|v| !new.values.contains(v))
        .cloned()
        .collect();
    let mut hazards = hazard::enum_values_removed(&new.name.to_string(), &removed);
    if columns.is_empty() {
        hazards.retain(|h| h.kind != hazard::HazardKind::TableRewrite);
    }
    let step = Step::new(
        format!(
            "recreate enum {} with values {}",
            new.name,
            new.values.join(", ")
        ),
        up,
        down,
    )
    .with_hazards(hazards);
    ctx.step(Phase::RecreateType, type_key(&new.name), step);
    ctx.rebuilt.insert(ObjectRef::Type(new.name.clone()));
}

fn create_domain(d: &Domain) -> Vec<String> {
    ddl::create_domain(d)
}

fn diff_domains(ctx: &mut Ctx<'_>) {
    for (name, new) in &ctx.to.domains {
        match ctx.from.domains.get(name) {
            None => create(
                ctx,
                name,
                create_domain(new),
                "DOMAIN",
                type_deps(&new.depends_on),
            ),
            Some(old) => alter_domain(ctx, old, new),
        }
    }
    for (name, old) in &ctx.from.domains {
        if !ctx.to.domains.contains_key(name) {
            drop(ctx, name, create_domain(old), "DOMAIN");
        }
    }
}

fn domain_statements(from: &Domain, to: &Domain) -> Vec<String> {
    let name = &to.name;
    let mut out = Vec::new();
    for check in &from.checks {
        if !to.checks.contains(check) {
            out.push(format!(
                "ALTER DOMAIN {name} DROP CONSTRAINT {}",
                quote_ident(&check.name)
            ));
        }
    }
    if from.default != to.default {
        out.push(match &to.default {
            Some(d) => format!("ALTER DOMAIN {name} SET DEFAULT {d}"),
            None => format!("ALTER DOMAIN {name} DROP DEFAULT"),
        });
    }
    if from.not_null != to.not_null {
        let action = if to.not_null { "SET" } else { "DROP" };
        out.push(format!("ALTER DOMAIN {name} {action} NOT NULL"));
    }
    for check in &to.checks {
        if !from.checks.contains(check) {
            out.push(format!(
                "ALTER DOMAIN {name} ADD CONSTRAINT {} {}",
                quote_ident(&check.name),
                check.definition
            ));
        }
    }
    out
}

fn alter_domain(ctx: &mut Ctx<'_>, old: &Domain, new: &Domain) {
    let name = &new.name;
    if old.base_type != new.base_type || old.collation != new.collation {
        ctx.unsupported.push(format!(
            "domain {name}: base type or collation change (drop and recreate it by hand)"
        ));
        return;
    }
    let up = domain_statements(old, new);
    if !up.is_empty() {
        let step = Step::new(
            format!("alter domain {name}"),
            up,
            domain_statements(new, old),
        )
        .with_hazards(hazard::validation_scan(
            &name.to_string(),
            "a domain constraint",
        ));
        ctx.step(Phase::CreateType, type_key(name), step);
    }
    comment(
        ctx,
        "DOMAIN",
        name,
        old.comment.as_ref(),
        new.comment.as_ref(),
    );
}

fn create_composite(c: &CompositeType) -> Vec<String> {
    ddl::create_composite(c)
}

fn diff_composites(ctx: &mut Ctx<'_>) {
    for (name, new) in &ctx.to.composites {
        match ctx.from.composites.get(name) {
            None => create(
                ctx,
                name,
                create_composite(new),
                "TYPE",
                type_deps(&new.depends_on),
            ),
            Some(old) if old.attributes != new.attributes => {
                let step = Step::new(
                    format!("alter type {name}"),
                    composite_statements(old, new),
                    composite_statements(new, old),
                );
                ctx.push(
                    Change::new(Phase::CreateType, type_key(name), step)
                        .after(type_deps(&new.depends_on)),
                );
                ctx.rebuilt.insert(ObjectRef::Type(name.clone()));
                comment(
                    ctx,
                    "TYPE",
                    name,
                    old.comment.as_ref(),
                    new.comment.as_ref(),
                );
            }
            Some(old) => comment(
                ctx,
                "TYPE",
                name,
                old.comment.as_ref(),
                new.comment.as_ref(),
            ),
        }
    }
    for (name, old) in &ctx.from.composites {
        if !ctx.to.composites.contains_key(name) {
            drop(ctx, name, create_composite(old), "TYPE");
        }
    }
}

fn composite_statements(from: &CompositeType, to: &CompositeType) -> Vec<String> {
    let name = &to.name;
    let mut out = Vec::new();
    for a in &from.attributes {
        if !to.attributes.iter().any(|b| b.name == a.name) {
            out.push(format!(
                "ALTER TYPE {name} DROP ATTRIBUTE {}",
                quote_ident(&a.name)
            ));
        }
    }
    for b in &to.attributes {
        let collate = b
            .collation
            .as_ref()
            .map(|c| format!(" COLLATE {c}"))
            .unwrap_or_default();
        match from.attributes.iter().find(|a| a.name == b.name) {
            None => out.push(format!(
                "ALTER TYPE {name} ADD ATTRIBUTE {} {}{collate}",
                quote_ident(&b.name),
                b.data_type
            )),
            Some(a) if a.data_type != b.data_type || a.collation != b.collation => {
                out.push(format!(
                    "ALTER TYPE {name} ALTER ATTRIBUTE {} TYPE {}{collate}",
                    quote_ident(&b.name),
                    b.data_type
                ));
            }
            Some(a) if a.comment != b.comment => out.push(sql::comment(
                &format!("COLUMN {name}.{}", quote_ident(&b.name)),
                b.comment.as_deref(),
            )),
            Some(_) => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_subsequence_detects_appended_and_inserted_values() {
        let v = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(is_subsequence(&v(&["a", "b"]), &v(&["a", "x", "b", "c"])));
        assert!(!is_subsequence(&v(&["a", "b"]), &v(&["b", "a"])));
        assert!(!is_subsequence(&v(&["a", "b"]), &v(&["a"])));
    }

    #[test]
    fn refers_to_matches_bare_qualified_and_array_names() {
        let mood = QualifiedName::new("public", "mood");
        assert_eq!(refers_to("mood", &mood), Some(""));
        assert_eq!(refers_to("public.mood[]", &mood), Some("[]"));
        assert_eq!(refers_to("moods", &mood), None);
    }
}
