//! Shared by the diff fixture tests and the conformance run: load SQL files into a test
//! database statement by statement (as `psql -f` does), introspect, apply a plan the way
//! the runner does, and name the first difference between two schemas.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use migrated::core::diff::{Plan, canonical_expression};
use migrated::core::schema::Schema;
use sqlx::PgConnection;

/// Statements of a script, split by PostgreSQL's own parser (respects `$$` bodies).
pub fn split_statements(sql: &str) -> Vec<String> {
    let parts = pg_query::split_with_parser(sql)
        .or_else(|_| pg_query::split_with_scanner(sql))
        .unwrap_or_else(|_| vec![sql]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The server's message without the C source location sqlx appends.
pub fn db_message(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) => db.message().to_owned(),
        None => e.to_string(),
    }
}

pub fn first_line(s: &str) -> String {
    let line = s.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    line.chars().take(160).collect()
}

pub async fn exec(conn: &mut PgConnection, sql: &str) -> Result<(), String> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(|e| db_message(&e))
}

/// Runs each statement on its own, stopping at the first error.
pub async fn run_script(conn: &mut PgConnection, sql: &str) -> Result<(), String> {
    for statement in split_statements(sql) {
        exec(conn, &statement)
            .await
            .map_err(|e| format!("{}: {e}", first_line(&statement)))?;
    }
    Ok(())
}

/// Applies one direction of a plan as the runner does: one transaction, unless a step must
/// run outside one (then statement by statement).
pub async fn apply(conn: &mut PgConnection, plan: &Plan, up: bool) -> Result<(), String> {
    let steps: Vec<_> = if up {
        plan.steps.iter().collect()
    } else {
        plan.steps.iter().rev().collect()
    };
    let transactional = !steps.iter().any(|s| s.no_transaction);
    if transactional {
        exec(conn, "BEGIN").await?;
    }
    for step in steps {
        for statement in if up { &step.up } else { &step.down } {
            if let Err(e) = exec(conn, statement).await {
                if transactional {
                    let _ = exec(conn, "ROLLBACK").await;
                }
                return Err(format!("[{}] {}: {e}", step.summary, first_line(statement)));
            }
        }
    }
    if transactional {
        exec(conn, "COMMIT").await?;
    }
    Ok(())
}

pub async fn introspect(conn: &mut PgConnection) -> Result<Schema, String> {
    migrated::db::introspect::introspect(conn)
        .await
        .map_err(|e| format!("{e:#}"))
}

/// The first entry of a map that differs: missing, extra, or changed (with the first
/// differing field of the two `Debug` renderings).
fn map_difference<K: Ord + std::fmt::Debug, V: PartialEq + std::fmt::Debug>(
    kind: &str,
    got: &BTreeMap<K, V>,
    want: &BTreeMap<K, V>,
) -> Option<String> {
    for (k, v) in want {
        match got.get(k) {
            None => return Some(format!("{kind} {k:?}: missing")),
            Some(g) if g != v => return Some(format!("{kind} {k:?}: {}", value_difference(g, v))),
            Some(_) => {}
        }
    }
    got.keys()
        .find(|k| !want.contains_key(k))
        .map(|k| format!("{kind} {k:?}: unexpected"))
}

/// Where two values' `Debug` renderings part, with some context.
fn value_difference<V: std::fmt::Debug>(got: &V, want: &V) -> String {
    let g = format!("{got:?}");
    let w = format!("{want:?}");
    let at = g
        .char_indices()
        .zip(w.chars())
        .find(|((_, a), b)| a != b)
        .map_or(g.len().min(w.len()), |((i, _), _)| i);
    let start = g[..at]
        .rfind(", ")
        .map_or(0, |i| i + 2)
        .max(at.saturating_sub(120));
    let start = (0..=start)
        .rev()
        .find(|i| g.is_char_boundary(*i) && w.is_char_boundary(*i))
        .unwrap_or(0);
    let piece = |s: &str| s[start..].chars().take(200).collect::<String>();
    format!("got ...{} want ...{}", piece(&g), piece(&w))
}

/// The schema as compared: each table's columns in name order, expression texts in their
/// fixpoint form. PostgreSQL cannot move a column without rebuilding its table: like every
/// migration tool, a plan appends new columns (and a down script re-adds a dropped one at
/// the end), so position is not compared. Some server renderings change once executed again
/// (`core::diff::canonical_expression`): both sides are compared in the re-executed form.
pub fn comparable(schema: &Schema) -> Schema {
    let mut schema = schema.clone();
    for table in schema.tables.values_mut() {
        table.columns.sort_by(|a, b| a.name.cmp(&b.name));
        for c in table.constraints.values_mut() {
            c.definition = canonical_expression(&c.definition);
        }
        for i in table.indexes.values_mut() {
            i.definition = canonical_expression(&i.definition);
            i.predicate = i.predicate.as_deref().map(canonical_expression);
        }
    }
    schema
}

/// None when equal (column positions aside), else the first difference as
/// `kind name: got X want Y`.
pub fn compare(got: &Schema, want: &Schema) -> Option<String> {
    if got == want {
        return None;
    }
    let got = &comparable(got);
    let want = &comparable(want);
    if got == want {
        return None;
    }
    map_difference("schema", &got.schemas, &want.schemas)
        .or_else(|| map_difference("extension", &got.extensions, &want.extensions))
        .or_else(|| map_difference("enum", &got.enums, &want.enums))
        .or_else(|| map_difference("domain", &got.domains, &want.domains))
        .or_else(|| map_difference("composite", &got.composites, &want.composites))
        .or_else(|| map_difference("sequence", &got.sequences, &want.sequences))
        .or_else(|| map_difference("table", &got.tables, &want.tables))
        .or_else(|| map_difference("view", &got.views, &want.views))
        .or_else(|| map_difference("function", &got.functions, &want.functions))
        .or_else(|| map_difference("trigger", &got.triggers, &want.triggers))
        .or_else(|| {
            (got.unsupported != want.unsupported).then(|| {
                format!(
                    "unsupported: {}",
                    value_difference(&got.unsupported, &want.unsupported)
                )
            })
        })
        .or_else(|| Some("schemas differ".into()))
}
