//! Tables and what hangs off them: CREATE TABLE (columns, defaults, identity, generated
//! columns, CHECK constraints), partition attachment, constraints, indexes, triggers,
//! row-level security and policies.

use std::fmt::Write as _;

use super::objects::sequence_options;
use super::{comment_if, trim_statement, with_options};
use crate::core::render::quote_ident;
use crate::core::schema::{
    Column, Constraint, ConstraintKind, IdentityGeneration, Index, Policy, QualifiedName, Table,
    Trigger,
};

/// One column as it appears inside `CREATE TABLE` or after `ADD COLUMN`.
pub(crate) fn column_definition(c: &Column) -> String {
    let mut sql = format!("{} {}", quote_ident(&c.name), c.data_type);
    if let Some(collation) = &c.collation {
        let _ = write!(sql, " COLLATE {collation}");
    }
    if let Some(expression) = &c.generated {
        let _ = write!(sql, " GENERATED ALWAYS AS ({expression}) STORED");
    } else if let Some(default) = &c.default {
        let _ = write!(sql, " DEFAULT {default}");
    }
    if let Some(identity) = &c.identity {
        let generation = match identity.generation {
            IdentityGeneration::Always => "ALWAYS",
            IdentityGeneration::ByDefault => "BY DEFAULT",
        };
        let _ = write!(
            sql,
            " GENERATED {generation} AS IDENTITY (SEQUENCE NAME {} {})",
            identity.sequence,
            sequence_options(&identity.options)
        );
    }
    if c.not_null {
        sql.push_str(" NOT NULL");
    }
    sql
}

/// Whether a CHECK constraint is declared inside `CREATE TABLE`: validated ones that the
/// table declares itself, and for a partition also the inherited ones (ATTACH PARTITION
/// requires them and merges them, as pg_dump relies on). NOT VALID ones are added later.
fn inline_check(table: &Table, c: &Constraint) -> bool {
    c.kind == ConstraintKind::Check && c.validated && (c.is_local || table.partition_of.is_some())
}

/// Whether a column is declared inside `CREATE TABLE`: all of a partition's (it is created
/// standalone, then attached), only the table's own for an inheritance child.
fn declared_column(table: &Table, c: &Column) -> bool {
    table.partition_of.is_some() || table.inherits.is_empty() || c.is_local
}

/// `CREATE TABLE` with its columns and CHECK constraints, then comments on the table, its
/// columns and those checks. A partition is created standalone: `attach_partition` attaches
/// it once its parent exists. Keys, foreign keys and indexes are separate statements.
pub fn create_table(t: &Table) -> Vec<String> {
    let mut items: Vec<String> = t
        .columns
        .iter()
        .filter(|c| declared_column(t, c))
        .map(|c| format!("    {}", column_definition(c)))
        .collect();
    items.extend(
        t.constraints
            .values()
            .filter(|c| inline_check(t, c))
            .map(|c| format!("    CONSTRAINT {} {}", quote_ident(&c.name), c.definition)),
    );
    let unlogged = if t.unlogged { "UNLOGGED " } else { "" };
    let mut sql = format!(
        "CREATE {unlogged}TABLE {} (\n{}\n)",
        t.name,
        items.join(",\n")
    );
    if items.is_empty() {
        sql = format!("CREATE {unlogged}TABLE {} ()", t.name);
    }
    if !t.inherits.is_empty() && t.partition_of.is_none() {
        let parents: Vec<String> = t.inherits.iter().map(ToString::to_string).collect();
        let _ = write!(sql, " INHERITS ({})", parents.join(", "));
    }
    if let Some(key) = &t.partition_key {
        let _ = write!(sql, " PARTITION BY {key}");
    }
    sql.push_str(&with_options(&t.options));
    let mut out = vec![sql];
    out.extend(table_comments(t));
    out
}

/// Comments on the table, its columns and its inline CHECK constraints.
fn table_comments(t: &Table) -> Vec<String> {
    let mut out: Vec<String> = comment_if("TABLE", &t.name.to_string(), t.comment.as_ref())
        .into_iter()
        .collect();
    for c in &t.columns {
        let target = format!("{}.{}", t.name, quote_ident(&c.name));
        out.extend(comment_if("COLUMN", &target, c.comment.as_ref()));
    }
    for c in t.constraints.values().filter(|c| inline_check(t, c)) {
        out.extend(comment_if(
            "CONSTRAINT",
            &constraint_target(&t.name, &c.name),
            c.comment.as_ref(),
        ));
    }
    out
}

fn constraint_target(table: &QualifiedName, name: &str) -> String {
    format!("{} ON {table}", quote_ident(name))
}

pub fn drop_table(name: &QualifiedName) -> String {
    format!("DROP TABLE {name}")
}

/// `ALTER TABLE ONLY parent ATTACH PARTITION child FOR VALUES ...` for a partition.
pub fn attach_partition(t: &Table) -> Option<String> {
    t.partition_of.as_ref().map(|p| {
        format!(
            "ALTER TABLE ONLY {} ATTACH PARTITION {} {}",
            p.parent, t.name, p.bound
        )
    })
}

/// `ALTER TABLE [ONLY] t ADD CONSTRAINT name <definition>` plus the comment. ONLY except
/// for a foreign key on a partitioned table (which the server clones to the partitions).
pub fn add_constraint(t: &Table, c: &Constraint) -> Vec<String> {
    let only = if c.kind == ConstraintKind::ForeignKey && t.is_partitioned() {
        ""
    } else {
        "ONLY "
    };
    let mut out = vec![format!(
        "ALTER TABLE {only}{} ADD CONSTRAINT {} {}",
        t.name,
        quote_ident(&c.name),
        c.definition
    )];
    out.extend(comment_if(
        "CONSTRAINT",
        &constraint_target(&t.name, &c.name),
        c.comment.as_ref(),
    ));
    out
}

pub fn drop_constraint(table: &QualifiedName, name: &str) -> String {
    format!("ALTER TABLE {table} DROP CONSTRAINT {}", quote_ident(name))
}

/// The server's `CREATE INDEX` plus the comment; `schema` is the table's schema.
pub fn create_index(schema: &str, index: &Index) -> Vec<String> {
    let mut out = vec![trim_statement(&index.definition).to_owned()];
    let target = QualifiedName::new(schema, &index.name).to_string();
    out.extend(comment_if("INDEX", &target, index.comment.as_ref()));
    out
}

pub fn drop_index(schema: &str, name: &str) -> String {
    format!("DROP INDEX {}", QualifiedName::new(schema, name))
}

/// The server's `CREATE TRIGGER`, its enabled state when not the default, its comment.
pub fn create_trigger(t: &Trigger) -> Vec<String> {
    let mut out = vec![trim_statement(&t.definition).to_owned()];
    out.extend(trigger_enabled_state(t));
    let target = format!("{} ON {}", quote_ident(&t.name), t.table);
    out.extend(comment_if("TRIGGER", &target, t.comment.as_ref()));
    out
}

/// `ALTER TABLE ... DISABLE|ENABLE REPLICA|ENABLE ALWAYS TRIGGER` when not `O` (enabled).
pub fn trigger_enabled_state(t: &Trigger) -> Option<String> {
    let action = match t.enabled.as_str() {
        "D" => "DISABLE",
        "R" => "ENABLE REPLICA",
        "A" => "ENABLE ALWAYS",
        _ => return None,
    };
    Some(format!(
        "ALTER TABLE {} {action} TRIGGER {}",
        t.table,
        quote_ident(&t.name)
    ))
}

pub fn drop_trigger(t: &Trigger) -> String {
    format!("DROP TRIGGER {} ON {}", quote_ident(&t.name), t.table)
}

/// `ALTER TABLE ... ENABLE|FORCE ROW LEVEL SECURITY` as the table has them.
pub fn enable_rls(t: &Table) -> Vec<String> {
    let mut out = Vec::new();
    if t.rls_enabled {
        out.push(format!("ALTER TABLE {} ENABLE ROW LEVEL SECURITY", t.name));
    }
    if t.rls_forced {
        out.push(format!("ALTER TABLE {} FORCE ROW LEVEL SECURITY", t.name));
    }
    out
}

/// `CREATE POLICY` plus its comment.
pub fn create_policy(table: &QualifiedName, p: &Policy) -> Vec<String> {
    let kind = if p.permissive {
        "PERMISSIVE"
    } else {
        "RESTRICTIVE"
    };
    let roles: Vec<String> = p
        .roles
        .iter()
        .map(|r| {
            if r == "public" {
                "PUBLIC".to_owned()
            } else {
                quote_ident(r)
            }
        })
        .collect();
    let mut sql = format!(
        "CREATE POLICY {} ON {table} AS {kind} FOR {} TO {}",
        quote_ident(&p.name),
        p.command.as_sql(),
        roles.join(", ")
    );
    if let Some(using) = &p.using {
        let _ = write!(sql, " USING ({using})");
    }
    if let Some(check) = &p.with_check {
        let _ = write!(sql, " WITH CHECK ({check})");
    }
    let mut out = vec![sql];
    let target = format!("{} ON {table}", quote_ident(&p.name));
    out.extend(comment_if("POLICY", &target, p.comment.as_ref()));
    out
}

pub fn drop_policy(table: &QualifiedName, name: &str) -> String {
    format!("DROP POLICY {} ON {table}", quote_ident(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::schema::{Identity, PolicyCommand, SequenceOptions};

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

    fn table(columns: Vec<Column>) -> Table {
        Table {
            name: QualifiedName::new("public", "user"),
            columns,
            constraints: std::collections::BTreeMap::new(),
            indexes: std::collections::BTreeMap::new(),
            policies: std::collections::BTreeMap::new(),
            unlogged: false,
            partition_key: None,
            partition_of: None,
            inherits: vec![],
            rls_enabled: false,
            rls_forced: false,
            options: vec![],
            comment: None,
            depends_on: vec![],
        }
    }

    #[test]
    fn column_definition_identity_renders_sequence_options() {
        let mut c = column("id", "bigint");
        c.not_null = true;
        c.identity = Some(Identity {
            generation: IdentityGeneration::Always,
            sequence: QualifiedName::new("public", "user_id_seq"),
            options: SequenceOptions {
                data_type: "bigint".into(),
                start: 1,
                increment: 1,
                min_value: 1,
                max_value: i64::MAX,
                cache: 1,
                cycle: false,
            },
        });
        assert_eq!(
            column_definition(&c),
            "id bigint GENERATED ALWAYS AS IDENTITY (SEQUENCE NAME public.user_id_seq START WITH 1 \
             INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 CACHE 1 NO CYCLE) NOT NULL"
        );
    }

    #[test]
    fn create_table_quotes_names_and_keeps_defaults() {
        let mut c = column("order", "text");
        c.default = Some("'x'::text".into());
        let mut t = table(vec![c]);
        t.comment = Some("people".into());
        assert_eq!(
            create_table(&t),
            [
                "CREATE TABLE public.\"user\" (\n    \"order\" text DEFAULT 'x'::text\n)",
                "COMMENT ON TABLE public.\"user\" IS 'people'"
            ]
        );
    }

    #[test]
    fn create_policy_renders_public_and_expressions() {
        let p = Policy {
            name: "self".into(),
            permissive: false,
            command: PolicyCommand::Select,
            roles: vec!["public".into()],
            using: Some("(a = 1)".into()),
            with_check: None,
            comment: None,
        };
        assert_eq!(
            create_policy(&QualifiedName::new("app", "t"), &p),
            ["CREATE POLICY self ON app.t AS RESTRICTIVE FOR SELECT TO PUBLIC USING ((a = 1))"]
        );
    }
}
