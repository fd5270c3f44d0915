//! Loading model files: file order, syntax errors, rename hints, the models command.

use std::path::Path;
use std::time::Duration;

use migrated::core::models::ModelSet;
use migrated::models::{self, Origin};

fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

async fn load_dir(dir: &Path) -> anyhow::Result<ModelSet> {
    models::load(&Origin::Dir {
        dir: dir.join("models"),
        base: dir.to_path_buf(),
    })
    .await
}

fn command(argv: &[&str], timeout: Duration) -> Origin {
    Origin::Command {
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        cwd: std::env::temp_dir(),
        timeout,
    }
}

fn sqls(set: &ModelSet) -> Vec<String> {
    set.statements.iter().map(|s| s.sql.clone()).collect()
}

#[tokio::test]
async fn models_dir_any_file_order_loads_in_dependency_order() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "models/a_views.sql",
        "CREATE VIEW active AS SELECT * FROM app.users WHERE active;\n",
    );
    write(
        dir.path(),
        "models/nested/b_users.sql",
        "CREATE TABLE app.users (id int PRIMARY KEY, active bool, kind app.kind);\n",
    );
    write(
        dir.path(),
        "models/c_types.sql",
        "CREATE TYPE app.kind AS ENUM ('a', 'b');\n",
    );
    write(dir.path(), "models/d_schema.sql", "CREATE SCHEMA app;\n");
    write(dir.path(), "models/.#swap.sql", "garbage");
    let set = load_dir(dir.path()).await.unwrap();
    assert_eq!(
        sqls(&set),
        [
            "CREATE SCHEMA app",
            "CREATE TYPE app.kind AS ENUM ('a', 'b')",
            "CREATE TABLE app.users (id int PRIMARY KEY, active bool, kind app.kind)",
            "CREATE VIEW active AS SELECT * FROM app.users WHERE active",
        ]
    );
    assert_eq!(set.statements[2].file, "models/nested/b_users.sql");
}

#[tokio::test]
async fn models_syntax_error_is_reported_as_file_line_column() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "models/ok.sql", "CREATE TABLE a (id int);\n");
    write(
        dir.path(),
        "models/users.sql",
        "CREATE TABLE users (\n  id int,\n  name text nul\n);\n",
    );
    let err = load_dir(dir.path()).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "models/users.sql:3:13: syntax error at or near \"nul\""
    );
}

#[tokio::test]
async fn models_rename_hints_reach_the_hint_set() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "models/people.sql",
        "CREATE TABLE people ( -- migrated:renamed from=users\n  id int,\n  full_name text -- migrated:renamed from=\"Name\"\n);\n",
    );
    let set = load_dir(dir.path()).await.unwrap();
    assert_eq!(set.hints.tables.len(), 1);
    assert_eq!(set.hints.tables[0].from, "users");
    assert_eq!(set.hints.columns[0].from, "Name");
    assert_eq!(set.hints.columns[0].to, "full_name");
    assert_eq!(set.hints.columns[0].table, "people");
}

#[tokio::test]
async fn models_command_output_is_one_source_named_after_it() {
    let origin = command(
        &["sh", "-c", "echo 'CREATE TABLE t (id int);'"],
        Duration::from_secs(10),
    );
    let set = models::load(&origin).await.unwrap();
    assert_eq!(sqls(&set), ["CREATE TABLE t (id int)"]);
    assert_eq!(
        set.statements[0].file,
        "sh -c echo 'CREATE TABLE t (id int);'"
    );
}

#[tokio::test]
async fn models_command_syntax_error_names_the_command() {
    let origin = command(
        &[
            "sh",
            "-c",
            "printf 'CREATE TABLE t (id int);\\nCREAT x;\\n'",
        ],
        Duration::from_secs(10),
    );
    let err = models::load(&origin).await.unwrap_err().to_string();
    assert!(
        err.ends_with(":2:1: syntax error at or near \"CREAT\""),
        "{err}"
    );
    assert!(err.starts_with("sh -c"), "{err}");
}

#[tokio::test]
async fn models_command_failure_reports_exit_code_and_stderr() {
    let origin = command(
        &["sh", "-c", "echo 'no such model' >&2; exit 3"],
        Duration::from_secs(10),
    );
    let err = models::load(&origin).await.unwrap_err().to_string();
    assert!(err.contains("exited with code 3"), "{err}");
    assert!(err.contains("no such model"), "{err}");
}

#[tokio::test]
async fn models_command_timeout_is_an_error() {
    let origin = command(&["sleep", "30"], Duration::from_millis(300));
    let err = models::load(&origin).await.unwrap_err().to_string();
    assert!(err.contains("timed out after 0.3s"), "{err}");
}
