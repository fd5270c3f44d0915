//! `up --sql` / `down --sql`: the SQL a plan would run, for a DBA to review or run by hand,
//! with the state-table statements included. Each migration is wrapped in BEGIN/COMMIT
//! unless it is a `-- no-transaction` file.

use std::fmt::Write as _;

use super::plan::{Direction, Plan};
use super::statement::split_statements;
use super::{MigrationSet, Script};
use crate::core::render::quote_literal;

/// The state table as the db layer defines it: its name and its DDL.
#[derive(Debug, Clone, Copy)]
pub struct StateTable<'a> {
    pub name: &'a str,
    pub create: &'a str,
}

/// The whole script for a plan; the state table's DDL is printed first for `up`.
pub fn offline_sql(set: &MigrationSet, plan: &Plan, state: StateTable<'_>) -> String {
    let mut out = String::new();
    let verb = match plan.direction {
        Direction::Up => "apply",
        Direction::Down => "revert",
    };
    let _ = writeln!(
        out,
        "-- migrated: {} migration(s) to {verb}. Generated for review: nothing was run.",
        plan.versions.len()
    );
    if plan.direction == Direction::Up && !plan.is_empty() {
        let _ = writeln!(out, "\n{};", state.create);
    }
    for version in &plan.versions {
        let m = set
            .get(*version)
            .expect("BUG: a plan names only known versions");
        let (script, record) = match plan.direction {
            Direction::Up => (
                &m.up,
                format!(
                    "INSERT INTO {} (version, description, success, checksum, execution_time) VALUES ({}, {}, TRUE, decode('{}', 'hex'), -1);",
                    state.name,
                    m.version,
                    quote_literal(&m.description),
                    hex::encode(&m.up.checksum)
                ),
            ),
            Direction::Down => (
                m.down
                    .as_ref()
                    .expect("BUG: plan_down checked every down file"),
                format!("DELETE FROM {} WHERE version = {};", state.name, m.version),
            ),
        };
        let _ = writeln!(
            out,
            "\n-- {} {} ({})",
            m.version, m.description, script.file
        );
        if script.no_transaction {
            let _ = writeln!(
                out,
                "-- no-transaction: runs statement by statement, not in a transaction"
            );
            let _ = writeln!(out, "{}\n{record}", terminated(script));
        } else {
            let _ = writeln!(out, "BEGIN;\n{}\n{record}\nCOMMIT;", terminated(script));
        }
    }
    out
}

/// The script's SQL, ending with `;` after its last statement.
fn terminated(script: &Script) -> String {
    let sql = script.sql.trim_end();
    let needs_semicolon = split_statements(sql)
        .ok()
        .and_then(|s| s.last().copied())
        .is_some_and(|last| {
            !sql[last.offset + last.text.len()..]
                .trim_start()
                .starts_with(';')
        });
    if needs_semicolon {
        format!("{sql};")
    } else {
        sql.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{SourceFile, plan::Direction};
    use super::*;

    const STATE: StateTable<'static> = StateTable {
        name: "state",
        create: "CREATE TABLE IF NOT EXISTS state ()",
    };

    fn set() -> MigrationSet {
        let files = [
            ("1_a.up.sql", "CREATE TABLE a (id int)"),
            ("1_a.down.sql", "DROP TABLE a;\n"),
            (
                "2_b.up.sql",
                "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON a (id);\n",
            ),
        ];
        let files: Vec<SourceFile> = files
            .iter()
            .map(|(n, s)| SourceFile {
                name: (*n).into(),
                bytes: s.as_bytes().to_vec(),
            })
            .collect();
        MigrationSet::from_files(&files).unwrap()
    }

    #[test]
    fn offline_sql_up_wraps_and_records() {
        let plan = Plan {
            direction: Direction::Up,
            versions: vec![1, 2],
        };
        let sql = offline_sql(&set(), &plan, STATE);
        assert!(
            sql.contains("BEGIN;\nCREATE TABLE a (id int);\nINSERT INTO state"),
            "{sql}"
        );
        assert!(sql.contains("VALUES (1, 'a', TRUE, decode('"), "{sql}");
        assert!(
            sql.contains("-- no-transaction: runs statement by statement"),
            "{sql}"
        );
        assert_eq!(sql.matches("BEGIN;").count(), 1, "{sql}");
    }

    #[test]
    fn offline_sql_down_deletes_state_row() {
        let plan = Plan {
            direction: Direction::Down,
            versions: vec![1],
        };
        let sql = offline_sql(&set(), &plan, STATE);
        assert!(
            sql.contains("BEGIN;\nDROP TABLE a;\nDELETE FROM state WHERE version = 1;\nCOMMIT;"),
            "{sql}"
        );
    }
}
