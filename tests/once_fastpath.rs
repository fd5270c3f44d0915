//! `--once` when nothing is pending: one connection, one query, no lock; without a command it
//! migrates and exits 0; with `mode = "development"` it first needs the generate pipeline.

mod common;
mod once_support;

use std::process::Stdio;
use std::time::Duration;

use common::Project;
use once_support::{add_migration, once_args, record_pid, wait_bounded};
use sqlx::Connection as _;

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn one_migration(p: &Project) {
    add_migration(
        p,
        "20260101000000",
        "create_a",
        "CREATE TABLE a (id int);\n",
        "DROP TABLE a;\n",
    );
}

/// Holds sqlx's migration advisory lock for `p`'s database on a connection of its own.
async fn hold_migration_lock(p: &Project) -> sqlx::PgConnection {
    let mut conn = sqlx::PgConnection::connect(&p.db.url).await.unwrap();
    let key = migrated::db::lock::key(&p.db.name);
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

#[tokio::test]
async fn once_without_command_migrates_and_exits_zero() {
    let p = Project::new("once_nocmd").await;
    one_migration(&p);
    p.run(&["--once"]).success();
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM _sqlx_migrations")
            .await,
        1
    );
    // Again: nothing pending.
    p.run(&["--once"]).success();
}

#[tokio::test]
async fn once_nothing_pending_takes_no_lock_and_execs() {
    let p = Project::new("once_fast").await;
    one_migration(&p);
    p.run(&["--once"]).success();

    // Another session holds the migration lock: the fast path must not need it.
    let _holder = hold_migration_lock(&p).await;
    let pid_file = p.path("app.pid");
    let mut child = p
        .command(&args(&once_args(&record_pid(&pid_file))))
        .env("MIGRATED_APPLY_ADVISORY_LOCK_TIMEOUT_SECS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let status = wait_bounded(&mut child, Duration::from_mins(1));
    assert!(status.success(), "{status}");
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        pid.to_string()
    );
}

#[tokio::test]
async fn once_pending_while_lock_held_times_out_naming_holder() {
    let p = Project::new("once_locked").await;
    one_migration(&p);
    let _holder = hold_migration_lock(&p).await;
    let run = p
        .command(&["--once", "--", "touch", "started"])
        .env("MIGRATED_APPLY_ADVISORY_LOCK_TIMEOUT_SECS", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("migration lock"), "{last}");
    assert!(last.contains("pid "), "names the holder: {last}");
    assert!(!p.path("started").exists(), "the command must not start");
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM pg_class WHERE relname = 'a'")
            .await,
        0
    );
}

#[tokio::test]
async fn once_empty_migrations_folder_execs_command() {
    let p = Project::new("once_empty").await;
    once_support::write_sum(&p);
    let pid_file = p.path("app.pid");
    p.run(&args(&once_args(&record_pid(&pid_file)))).success();
    assert!(pid_file.exists());
}
