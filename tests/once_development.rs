//! `--once` with `mode = "development"`: one pass of the watcher first (the models become the
//! draft migration and the dev database follows), then the production steps and the command.
//! A model that does not load fails the run before the command starts.

mod common;
mod once_support;

use common::Project;
use once_support::{assert_success, write_sum};

fn once_dev(p: &Project, marker: &str) -> std::process::Output {
    p.command(&["--once", "--", "touch", marker])
        .env("MIGRATED_MODE", "development")
        .output()
        .unwrap()
}

fn migration_files(p: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn once_development_mode_generates_draft_applies_it_and_execs() {
    let p = Project::new("once_dev").await;
    write_sum(&p);
    p.write(
        "models/items.sql",
        "CREATE TABLE items (id bigint PRIMARY KEY, name text NOT NULL);\n",
    );
    let out = once_dev(&p, "started");
    assert_success(&out);
    assert!(p.path("started").exists());
    let files = migration_files(&p);
    assert!(
        files.iter().any(|f| f.ends_with(".up.sql")),
        "a draft migration is written: {files:?}"
    );
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM pg_class WHERE relname = 'items' AND relkind = 'r'")
            .await,
        1,
        "the dev database follows the models"
    );
    // Again, nothing changed: still fine, still one draft.
    let out = once_dev(&p, "again");
    assert_success(&out);
    assert_eq!(migration_files(&p), files);
}

#[tokio::test]
async fn once_development_mode_invalid_model_fails_and_never_starts_command() {
    let p = Project::new("once_dev_bad").await;
    write_sum(&p);
    p.write(
        "models/items.sql",
        "CREATE TABLE items (id bigint PRIMARY KEY,, name text);\n",
    );
    let out = once_dev(&p, "started");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("items.sql"), "names the model file: {last}");
    assert!(!p.path("started").exists(), "the command must not start");
}
