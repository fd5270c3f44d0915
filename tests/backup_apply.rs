//! Backups around applying: `backup.before_apply` makes `up` back up first (and the events
//! table records the file), `backup.rollback_on_fail` prints the restore command when a
//! `-- no-transaction` migration fails half-way, and `db reset` rebuilds from migrations.

mod common;

use common::Project;

fn backups(p: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.path("backups"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[tokio::test]
async fn up_with_before_apply_backs_up_first_and_records_the_file() {
    let p = Project::new("bkbefore").await;
    p.migration(
        "20260101000000",
        "create_t",
        "CREATE TABLE t (id int);\n",
        Some("DROP TABLE t;\n"),
    );
    let up = |p: &Project| {
        p.command(&["up"])
            .env("MIGRATED_BACKUP_BEFORE_APPLY", "true")
            .output()
            .unwrap()
    };
    let out = up(&p);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let files = backups(&p);
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(
        files[0].ends_with("-pre-20260101000000.sql.gz"),
        "{files:?}"
    );
    assert!(
        stdout.contains(&format!(
            "backed up to {}",
            p.path("backups").join(&files[0]).display()
        )),
        "{stdout}"
    );
    let recorded =
        p.db.strings("SELECT backup_file FROM migrated_events WHERE version = 20260101000000")
            .await;
    assert_eq!(recorded.len(), 1);
    assert!(recorded[0].ends_with(&files[0]), "{recorded:?}");

    let again = up(&p);
    assert!(again.status.success());
    assert_eq!(backups(&p).len(), 1, "nothing pending: no second backup");
}

#[tokio::test]
async fn up_failed_no_transaction_migration_prints_a_restore_command_that_works() {
    let p = Project::new("bkrollback").await;
    p.migration(
        "20260101000000",
        "create_t",
        "CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n",
        None,
    );
    p.run(&["up"]).success();
    p.migration(
        "20260102000000",
        "half",
        "-- no-transaction\nCREATE TABLE a (x int);\nCREATE TABLE a (x int);\n",
        None,
    );
    let out = p
        .command(&["up"])
        .env("MIGRATED_BACKUP_ROLLBACK_ON_FAIL", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let command = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("migrated db restore --clean "))
        .unwrap_or_else(|| panic!("no restore command in {stderr}"))
        .to_owned();
    assert_eq!(
        p.db.strings("SELECT to_regclass('public.a')::text").await,
        ["a"],
        "the half-applied table exists before the restore"
    );
    p.run(&["db", "restore", "--clean", &command]).success();
    assert_eq!(
        p.db.strings("SELECT to_regclass('public.a')::text").await,
        [""]
    );
    assert_eq!(p.db.scalar_i64("SELECT count(*) FROM t").await, 1);
    assert_eq!(
        p.db.strings("SELECT version::text FROM _sqlx_migrations ORDER BY version")
            .await,
        ["20260101000000"]
    );
}

#[tokio::test]
async fn db_reset_drops_everything_and_reapplies_all_migrations() {
    let p = Project::new("bkreset").await;
    p.migration(
        "20260101000000",
        "create_t",
        "CREATE TABLE t (id int);\n",
        Some("DROP TABLE t;\n"),
    );
    p.run(&["up"]).success();
    p.db.exec("INSERT INTO t VALUES (1); CREATE SCHEMA extra; CREATE TABLE extra.x (y int);")
        .await;

    p.run(&["db", "reset"]).code(2).stderr_has("--yes");
    assert_eq!(p.db.scalar_i64("SELECT count(*) FROM t").await, 1);

    p.run(&["db", "reset", "--yes"]).success();
    assert_eq!(p.db.scalar_i64("SELECT count(*) FROM t").await, 0);
    assert_eq!(
        p.db.strings("SELECT to_regclass('extra.x')::text").await,
        [""]
    );
    assert_eq!(
        p.db.strings("SELECT version::text FROM _sqlx_migrations WHERE success")
            .await,
        ["20260101000000"]
    );
}
