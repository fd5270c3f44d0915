//! `--once` when something is wrong: a failing migration, a changed applied file. It exits
//! non-zero with one line naming the cause, leaves no partial state, and never starts the
//! command.

mod common;
mod once_support;

use common::Project;
use once_support::{add_migration, once_args, write_sum};

fn run_once_touching(p: &Project, marker: &str) -> common::Run {
    let cmd = vec!["touch".to_owned(), p.path(marker).display().to_string()];
    let args = once_args(&cmd);
    p.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

fn last_line(text: &str) -> &str {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

#[tokio::test]
async fn once_failing_migration_exits_nonzero_names_version_and_never_starts_command() {
    let p = Project::new("once_fail").await;
    add_migration(
        &p,
        "20260101000000",
        "create_a",
        "CREATE TABLE a (id int);\n",
        "DROP TABLE a;\n",
    );
    add_migration(
        &p,
        "20260101000001",
        "broken",
        "CREATE TABLE b (id int);\nINSERT INTO no_such_table VALUES (1);\n",
        "DROP TABLE b;\n",
    );
    add_migration(
        &p,
        "20260101000002",
        "create_c",
        "CREATE TABLE c (id int);\n",
        "DROP TABLE c;\n",
    );

    let run = run_once_touching(&p, "started").code(1);
    let line = last_line(&run.stderr);
    assert!(
        line.starts_with("error: "),
        "one error line at the end:\n{}",
        run.stderr
    );
    assert!(line.contains("20260101000001"), "names the version: {line}");
    assert!(line.contains("no_such_table"), "says why: {line}");
    assert!(!p.path("started").exists(), "the command must not start");

    // The failing migration left nothing behind; the one before it stays applied.
    assert_eq!(
        p.db.strings("SELECT version::text FROM _sqlx_migrations ORDER BY version")
            .await,
        ["20260101000000"]
    );
    assert_eq!(
        p.db.strings(
            "SELECT string_agg(relname::text, ',' ORDER BY relname) FROM pg_class \
             WHERE relname IN ('a', 'b', 'c') AND relkind = 'r'"
        )
        .await,
        ["a"]
    );
}

#[tokio::test]
async fn once_applied_file_changed_fails_on_fast_path_and_never_starts_command() {
    let p = Project::new("once_changed").await;
    add_migration(
        &p,
        "20260101000000",
        "create_a",
        "CREATE TABLE a (id int);\n",
        "DROP TABLE a;\n",
    );
    run_once_touching(&p, "first").success();
    assert!(p.path("first").exists());

    // Edit the applied file (and its sum, so only the checksum check can catch it).
    p.write(
        "migrations/20260101000000_create_a.up.sql",
        "CREATE TABLE a (id bigint);\n",
    );
    write_sum(&p);
    let run = run_once_touching(&p, "second").code(1);
    let line = last_line(&run.stderr);
    assert!(line.contains("20260101000000"), "names the version: {line}");
    assert!(line.contains("changed"), "says the file changed: {line}");
    assert!(!p.path("second").exists(), "the command must not start");
}

#[tokio::test]
async fn once_stale_sum_file_fails_and_never_starts_command() {
    let p = Project::new("once_stale_sum").await;
    add_migration(
        &p,
        "20260101000000",
        "create_a",
        "CREATE TABLE a (id int);\n",
        "DROP TABLE a;\n",
    );
    // A second migration added without updating migrated.sum.
    p.migration(
        "20260101000001",
        "create_b",
        "CREATE TABLE b (id int);\n",
        Some("DROP TABLE b;\n"),
    );
    let run = run_once_touching(&p, "started");
    assert_ne!(run.code, Some(0), "{}", run.stderr);
    assert!(
        last_line(&run.stderr).contains("migrated.sum"),
        "{}",
        run.stderr
    );
    assert!(!p.path("started").exists(), "the command must not start");
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM pg_class WHERE relname IN ('a', 'b')")
            .await,
        0,
        "nothing is applied when the files do not validate"
    );
}

#[tokio::test]
async fn once_command_not_found_exits_nonzero_after_migrating() {
    let p = Project::new("once_no_cmd").await;
    add_migration(
        &p,
        "20260101000000",
        "create_a",
        "CREATE TABLE a (id int);\n",
        "DROP TABLE a;\n",
    );
    let run = p.run(&["--once", "--", "/nonexistent/app-server"]).code(1);
    assert!(
        last_line(&run.stderr).contains("/nonexistent/app-server"),
        "{}",
        run.stderr
    );
}
