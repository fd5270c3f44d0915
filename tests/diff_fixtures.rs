//! Diff fixtures (STYLE habit 11): each `tests/fixtures/diff/<change>/` holds `from.sql` and
//! `to.sql` (and optionally `hints.txt`: `table <schema> <from> <to>` or
//! `column <schema> <table> <from> <to>` per line). Both are loaded into fresh databases and
//! introspected; the plan's up and down scripts, hazards and suggestions are snapshotted
//! (insta, `tests/fixtures/diff/snapshots/`), and the plan is verified: up turns `from` into
//! exactly `to`, down brings `from` back. Every bug becomes a new fixture directory.

mod common;
mod diff_support;
mod engine_common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use migrated::core::diff::{Plan, diff};
use migrated::core::hints::{ColumnRename, RenameHints, TableRename};
use migrated::core::render::{render_down, render_up};
use migrated::db::snapshot;

fn fixture_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/diff")
        .join(name)
}

fn hints(dir: &Path) -> RenameHints {
    let mut hints = RenameHints::default();
    let Ok(text) = std::fs::read_to_string(dir.join("hints.txt")) else {
        return hints;
    };
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["table", schema, from, to] => hints.tables.push(TableRename {
                schema: (*schema).into(),
                from: (*from).into(),
                to: (*to).into(),
            }),
            ["column", schema, table, from, to] => hints.columns.push(ColumnRename {
                schema: (*schema).into(),
                table: (*table).into(),
                from: (*from).into(),
                to: (*to).into(),
            }),
            _ => panic!("{}: bad hint line {line:?}", dir.display()),
        }
    }
    hints
}

/// What the snapshot shows: both scripts, then hazards and suggestions.
fn rendered(plan: &Plan) -> String {
    let mut out = format!("-- up\n{}\n-- down\n{}", render_up(plan), render_down(plan));
    for step in &plan.steps {
        for h in &step.hazards {
            let _ = writeln!(out, "-- hazard {}: {} ({})", h.kind, h.object, h.detail);
        }
    }
    for s in &plan.suggestions {
        let _ = writeln!(out, "-- suggestion: {s}");
    }
    for u in &plan.unsupported {
        let _ = writeln!(out, "-- unsupported: {u}");
    }
    out
}

async fn run_fixture(name: &str) {
    let dir = fixture_dir(name);
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{name}/{f}: {e}"))
    };
    let from_db = common::TestDb::new(name).await;
    let to_db = common::TestDb::new(name).await;
    let mut cur = from_db.conn().await;
    let mut want = to_db.conn().await;
    diff_support::run_script(&mut cur, &read("from.sql"))
        .await
        .unwrap_or_else(|e| panic!("{name}/from.sql: {e}"));
    diff_support::run_script(&mut want, &read("to.sql"))
        .await
        .unwrap_or_else(|e| panic!("{name}/to.sql: {e}"));
    let from = diff_support::introspect(&mut cur).await.unwrap();
    let to = diff_support::introspect(&mut want).await.unwrap();
    let base = snapshot::take(&mut cur).await.unwrap();
    assert_eq!(
        base.schema, from,
        "{name}: a snapshot reads what introspect reads"
    );
    let plan = diff(&from, &to, &hints(&dir)).unwrap();
    insta::with_settings!({
        snapshot_path => fixture_dir("snapshots"),
        prepend_module_to_snapshot => false,
    }, {
        insta::assert_snapshot!(name, rendered(&plan));
    });
    diff_support::apply(&mut cur, &plan, true)
        .await
        .unwrap_or_else(|e| panic!("{name}: up fails: {e}"));
    let after_up = diff_support::introspect(&mut cur).await.unwrap();
    if let Some(d) = diff_support::compare(&after_up, &to) {
        panic!("{name}: up does not give to.sql: {d}");
    }
    let up_snapshot = incremental_read(&mut cur, &base, &after_up, name, "up").await;
    diff_support::apply(&mut cur, &plan, false)
        .await
        .unwrap_or_else(|e| panic!("{name}: down fails: {e}"));
    let after_down = diff_support::introspect(&mut cur).await.unwrap();
    if let Some(d) = diff_support::compare(&after_down, &from) {
        panic!("{name}: down does not give from.sql back: {d}");
    }
    incremental_read(&mut cur, &up_snapshot, &after_down, name, "down").await;
}

/// The incremental read since `base` must give exactly what a full read gave.
async fn incremental_read(
    conn: &mut sqlx::PgConnection,
    base: &snapshot::Snapshot,
    full: &migrated::core::schema::Schema,
    name: &str,
    direction: &str,
) -> snapshot::Snapshot {
    let (now, _) = snapshot::since(conn, base).await.unwrap();
    if now.schema != *full {
        engine_common::assert_same_schema(&now.schema, full, &format!("{name} after {direction}"));
        panic!("{name}: the incremental read after {direction} differs from a full read");
    }
    now
}

macro_rules! fixtures {
    ($($name:ident),* $(,)?) => {
        const FIXTURES: &[&str] = &[$(stringify!($name)),*];
        $(
            #[tokio::test]
            async fn $name() {
                run_fixture(stringify!($name)).await;
            }
        )*
    };
}

fixtures!(
    add_table,
    drop_table,
    rename_table,
    add_column,
    drop_column,
    rename_column,
    type_change_using,
    varchar_check_to_enum,
    enum_add_value,
    enum_remove_value,
    index_add,
    index_drop,
    index_change,
    foreign_key,
    check,
    unique,
    primary_key_change,
    default,
    not_null,
    identity,
    generated_column,
    collation,
    view_dependent_column,
    view_change,
    view_append_column,
    materialized_view,
    function_change,
    trigger,
    policy,
    comment,
    sequence,
    domain,
    composite_type,
    partition,
    schema_and_extension,
    unlogged_and_options,
);

#[test]
fn fixtures_every_directory_has_a_test() {
    let mut dirs: Vec<String> = std::fs::read_dir(fixture_dir(""))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.path().join("from.sql").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(
        dirs, listed,
        "add the new fixture directory to the fixtures! list"
    );
}
