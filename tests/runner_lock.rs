//! The library API other parts build on (`db::apply`, `db::lock`): a failing migration on a
//! long-lived connection (the watcher's, `--once`'s) releases the advisory lock at once and
//! leaves the connection usable.

mod common;

use std::time::Duration;

use common::TestDb;
use migrated::config::DatabaseUrl;
use migrated::core::migration::{MigrationSet, SourceFile, UpTarget};
use migrated::db::{self, apply};

fn set(files: &[(&str, &str)]) -> MigrationSet {
    let files: Vec<SourceFile> = files
        .iter()
        .map(|(n, s)| SourceFile {
            name: (*n).to_owned(),
            bytes: s.as_bytes().to_vec(),
        })
        .collect();
    MigrationSet::from_files(&files).unwrap()
}

fn options() -> apply::ApplyOptions {
    apply::ApplyOptions {
        lock_timeout: Duration::from_secs(5),
        lock_retries: 0,
        advisory_lock_timeout: Duration::from_secs(5),
        backup_file: Some("backups/x.sql.gz".to_owned()),
    }
}

#[tokio::test]
async fn apply_failure_releases_lock_and_keeps_connection_usable() {
    let test = TestDb::new("lock_release").await;
    let url = DatabaseUrl::new(test.url.clone());
    let mut conn = db::connect(&url).await.unwrap();
    let migrations = set(&[
        ("1_ok.up.sql", "CREATE TABLE ok (id int);\n"),
        ("2_bad.up.sql", "CREATE TABLE bad (id int);\nSELECT 1/0;\n"),
    ]);
    let err = apply::up(&mut conn, &migrations, UpTarget::Head, &options())
        .await
        .unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("2_bad.up.sql:2"), "{text}");
    assert!(text.contains("division by zero"), "{text}");
    // Our session is still open: the lock must have been released explicitly.
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(held, 0);
    // The connection is usable (no aborted transaction left), with lock_timeout restored.
    let lock_timeout: String = sqlx::query_scalar("SELECT current_setting('lock_timeout')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(lock_timeout, "0");
    assert_eq!(
        test.strings("SELECT version::text FROM _sqlx_migrations")
            .await,
        ["1"]
    );
    assert_eq!(
        test.strings("SELECT backup_file FROM migrated_events ORDER BY id")
            .await,
        ["backups/x.sql.gz", "backups/x.sql.gz"]
    );
}

#[tokio::test]
async fn lock_is_exclusive_between_sessions() {
    let test = TestDb::new("lock_exclusive").await;
    let url = DatabaseUrl::new(test.url.clone());
    let mut a = db::connect(&url).await.unwrap();
    let mut b = db::connect(&url).await.unwrap();
    let held = db::lock::acquire(&mut a, Duration::from_secs(1))
        .await
        .unwrap();
    let err = db::lock::acquire(&mut b, Duration::from_millis(200))
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("held by pid"), "{err:#}");
    held.release(&mut a).await.unwrap();
    let again = db::lock::acquire(&mut b, Duration::from_secs(1))
        .await
        .unwrap();
    again.release(&mut b).await.unwrap();
}
