//! `--once` with `backup.before_apply`: a snapshot is taken under the lock before the first
//! pending migration (and only when something is pending); a backup that fails stops the run
//! before anything is applied.

mod common;
mod once_support;

use std::os::unix::fs::PermissionsExt as _;

use common::Project;
use once_support::{add_migration, assert_success};

fn backups(p: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.path("backups"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n.ends_with(".sql.gz"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn two_migrations(p: &Project) {
    add_migration(
        p,
        "20260101000000",
        "create_a",
        "CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n",
        "DROP TABLE a;\n",
    );
    add_migration(
        p,
        "20260101000001",
        "create_b",
        "CREATE TABLE b (id int);\n",
        "DROP TABLE b;\n",
    );
}

#[tokio::test]
async fn once_backup_before_apply_snapshots_before_first_pending_only_when_pending() {
    let p = Project::new("once_backup").await;
    two_migrations(&p);
    // The first migration is already applied; the second is pending.
    p.run(&["up", "20260101000000"]).success();

    let run = |marker: &str| {
        p.command(&["--once", "--", "touch", marker])
            .env("MIGRATED_BACKUP_BEFORE_APPLY", "true")
            .output()
            .unwrap()
    };
    let out = run("first");
    assert_success(&out);
    assert!(p.path("first").exists());
    let files = backups(&p);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].ends_with("-pre-20260101000001.sql.gz"),
        "{files:?}"
    );
    let mode = std::fs::metadata(p.path("backups").join(&files[0]))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "backups hold data: mode 0600");
    let recorded =
        p.db.strings(
            "SELECT backup_file FROM migrated_events WHERE version = 20260101000001 AND success",
        )
        .await;
    assert_eq!(recorded.len(), 1);
    assert!(recorded[0].contains(&files[0]), "{recorded:?}");

    // Nothing pending: no new backup.
    let out = run("second");
    assert_success(&out);
    assert!(p.path("second").exists());
    assert_eq!(backups(&p).len(), 1);
}

#[tokio::test]
async fn once_backup_failure_applies_nothing_and_never_starts_command() {
    let p = Project::new("once_backup_fail").await;
    two_migrations(&p);
    // `backups` is a file, so no backup can be written there.
    p.write("backups", "not a folder");
    let out = p
        .command(&["--once", "--", "touch", "started"])
        .env("MIGRATED_BACKUP_BEFORE_APPLY", "true")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("backing up before applying 20260101000000"),
        "{last}"
    );
    assert!(!p.path("started").exists(), "the command must not start");
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM pg_class WHERE relname IN ('a', 'b')")
            .await,
        0
    );
}
