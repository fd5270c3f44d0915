//! `migrated up` and `status` against a real PostgreSQL: applying, targets, the no-op,
//! failures (with version, statement and line), lock_timeout retries, and every error that
//! must stop a run before anything is touched.

mod common;

use common::Project;

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL);\n";
const POSTS: &str =
    "CREATE TABLE posts (id bigint PRIMARY KEY, user_id bigint REFERENCES users);\n";

async fn project(label: &str) -> Project {
    let p = Project::new(label).await;
    p.migration(
        "20260101000000",
        "create_users",
        USERS,
        Some("DROP TABLE users;\n"),
    );
    p.migration(
        "20260101000001",
        "create_posts",
        POSTS,
        Some("DROP TABLE posts;\n"),
    );
    p
}

/// The one `error:` line of a failed run (diagnostics may precede it on stderr).
fn error_line(stderr: &str) -> String {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "expected one error line:\n{stderr}");
    errors[0].to_owned()
}

const ADVISORY_HERE: &str = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";

async fn versions(p: &Project) -> Vec<String> {
    p.db.strings("SELECT version::text FROM _sqlx_migrations ORDER BY version")
        .await
}

async fn tables(p: &Project) -> Vec<String> {
    p.db.strings(
        "SELECT relname::text FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace \
         AND relname NOT IN ('_sqlx_migrations', 'migrated_events') ORDER BY 1",
    )
    .await
}

#[tokio::test]
async fn up_fresh_database_applies_all_and_records_rows() {
    let p = project("up_fresh").await;
    let run = p.run(&["up"]).success();
    assert!(
        run.stdout.contains("applied 20260101000000 create users"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("the database is at 20260101000001"),
        "{}",
        run.stdout
    );
    assert_eq!(versions(&p).await, ["20260101000000", "20260101000001"]);
    assert_eq!(tables(&p).await, ["posts", "users"]);
    assert_eq!(
        p.db.strings("SELECT description FROM _sqlx_migrations ORDER BY version")
            .await,
        ["create users", "create posts"]
    );
    assert_eq!(
        p.db.scalar_i64(
            "SELECT count(*) FROM _sqlx_migrations WHERE success AND execution_time > 0"
        )
        .await,
        2
    );
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM migrated_events WHERE direction = 'up' AND success")
            .await,
        2
    );
}

#[tokio::test]
async fn up_nothing_pending_is_noop_and_creates_nothing() {
    let p = Project::new("up_noop_empty").await;
    p.write("migrations/migrated.sum", "");
    p.run(&["up"]).success().stdout_has("nothing to apply");
    // No pending migration: no table is created.
    assert_eq!(
        p.db.scalar_i64(
            "SELECT count(*) FROM pg_class WHERE relname IN ('_sqlx_migrations', 'migrated_events')"
        )
        .await,
        0
    );
    let p = project("up_noop").await;
    p.run(&["up"]).success();
    p.run(&["up"])
        .success()
        .stdout_has("nothing to apply: the database is at 20260101000001");
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM migrated_events")
            .await,
        2
    );
}

#[tokio::test]
async fn up_targets_plus_n_and_version_stop_there() {
    let p = project("up_targets").await;
    p.migration(
        "20260101000002",
        "c",
        "CREATE TABLE c (id int);\n",
        Some("DROP TABLE c;\n"),
    );
    p.run(&["up", "+1"]).success();
    assert_eq!(versions(&p).await, ["20260101000000"]);
    p.run(&["up", "20260101000001"]).success();
    assert_eq!(versions(&p).await, ["20260101000000", "20260101000001"]);
    p.run(&["up", "head"]).success();
    assert_eq!(versions(&p).await.len(), 3);
    p.run(&["up", "+0"])
        .code(2)
        .stderr_has("invalid target \"+0\"");
    p.run(&["up", "20990101000000"])
        .code(1)
        .stderr_has("unknown migration version 20990101000000");
}

#[tokio::test]
async fn up_failing_statement_reports_version_line_statement_and_progress() {
    let p = project("up_fail").await;
    p.migration(
        "20260101000002",
        "broken",
        "CREATE TABLE ok_before (id int);\n\n-- the next one is wrong\nINSERT INTO nowhere\n  VALUES (1);\n",
        Some("SELECT 1;\n"),
    );
    let run = p.run(&["up"]).code(1);
    let err = error_line(&run.stderr);
    for needle in [
        "migration 20260101000002 (broken) failed at 20260101000002_broken.up.sql:4",
        "relation \"nowhere\" does not exist",
        "INSERT INTO nowhere VALUES (1)",
        "applied before it: 20260101000000, 20260101000001",
        "was rolled back",
    ] {
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    }
    assert!(!err.contains("at line 1"), "server C line leaked: {err}");
    // The failed migration left nothing behind; the ones before it stay.
    assert_eq!(versions(&p).await, ["20260101000000", "20260101000001"]);
    assert_eq!(tables(&p).await, ["posts", "users"]);
    assert_eq!(
        p.db.strings("SELECT version || ' ' || success || ' ' || (error IS NOT NULL) FROM migrated_events WHERE NOT success").await,
        ["20260101000002 false true"]
    );
}

#[tokio::test]
async fn up_error_without_position_reports_statement_line() {
    let p = Project::new("up_fail_nopos").await;
    p.migration(
        "1",
        "dup",
        "CREATE TABLE t (id int PRIMARY KEY);\nINSERT INTO t VALUES (1);\n\nINSERT INTO t VALUES (1);\n",
        None,
    );
    p.run(&["up"])
        .code(1)
        .stderr_has("1_dup.up.sql:4")
        .stderr_has("duplicate key value violates unique constraint")
        .stderr_has("nothing was applied before it");
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM pg_class WHERE relname = 't'")
            .await,
        0
    );
}

#[tokio::test]
async fn up_syntax_error_reports_line() {
    let p = Project::new("up_syntax").await;
    p.migration(
        "1",
        "syntax",
        "SELECT 1;\n\nCREATE TABL x (id int);\n",
        None,
    );
    p.run(&["up"])
        .code(1)
        .stderr_has("1_syntax.up.sql:3")
        .stderr_has("syntax error");
}

#[tokio::test]
async fn up_no_transaction_runs_statements_one_by_one() {
    let p = Project::new("up_notx").await;
    p.migration("1", "table", "CREATE TABLE t (id int);\n", None);
    p.migration(
        "2",
        "concurrent",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY t_a ON t (id);\nCREATE INDEX CONCURRENTLY t_b ON t (id);\n",
        None,
    );
    p.run(&["up"]).success();
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM pg_indexes WHERE tablename = 't'")
            .await,
        2
    );
    assert_eq!(versions(&p).await, ["1", "2"]);
}

#[tokio::test]
async fn up_no_transaction_failure_not_recorded_and_says_what_stays() {
    let p = Project::new("up_notx_fail").await;
    p.migration("1", "table", "CREATE TABLE t (id int);\n", None);
    p.migration(
        "2",
        "concurrent",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY t_a ON t (id);\nCREATE INDEX CONCURRENTLY t_b ON nope (id);\n",
        None,
    );
    p.run(&["up"])
        .code(1)
        .stderr_has("2_concurrent.up.sql:3")
        .stderr_has("1 of its 2 statements ran and stay applied")
        .stderr_has("applied before it: 1");
    assert_eq!(versions(&p).await, ["1"]);
}

#[tokio::test]
async fn up_lock_timeout_retries_then_fails_clearly() {
    let p = Project::new("up_locktimeout").await;
    p.db.exec("CREATE TABLE busy (id int)").await;
    p.migration(
        "1",
        "alter_busy",
        "ALTER TABLE busy ADD COLUMN x int;\n",
        None,
    );
    p.write(
        "config/migrated.toml",
        "[apply]\nlock_timeout_ms = 50\nlock_retries = 2\n",
    );
    let mut holder = p.db.conn().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE busy IN ACCESS SHARE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    p.run(&["up"])
        .code(1)
        .stderr_has("lock timeout")
        .stderr_has("3 attempts")
        .stderr_has("1_alter_busy.up.sql:1");
    assert_eq!(p.db.scalar_i64(ADVISORY_HERE).await, 0);
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    p.run(&["up"]).success();
}

#[tokio::test]
async fn up_lock_released_during_retries_succeeds() {
    let p = Project::new("up_lockretry").await;
    p.db.exec("CREATE TABLE busy (id int)").await;
    p.migration(
        "1",
        "alter_busy",
        "ALTER TABLE busy ADD COLUMN x int;\n",
        None,
    );
    p.write(
        "config/migrated.toml",
        "[apply]\nlock_timeout_ms = 100\nlock_retries = 10\n",
    );
    let mut holder = p.db.conn().await;
    sqlx::raw_sql("BEGIN; LOCK TABLE busy IN ACCESS SHARE MODE")
        .execute(&mut holder)
        .await
        .unwrap();
    let child = p
        .command(&["up"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Release once the migration has hit lock_timeout at least once.
    let waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted \
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())";
    while p.db.scalar_i64(waiting).await == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("lock_timeout hit, retrying"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(p.db.scalar_i64("SELECT count(*) FROM information_schema.columns WHERE table_name = 'busy' AND column_name = 'x'").await, 1);
}

#[tokio::test]
async fn up_unreachable_database_one_line_without_password() {
    let p = Project::new("up_unreachable").await;
    p.migration("1", "a", "SELECT 1;\n", None);
    let run = p
        .run(&[
            "--database-url",
            "postgres://alice:s3cret@127.0.0.1:1/nowhere",
            "up",
        ])
        .code(1);
    assert!(
        run.stderr
            .contains("cannot connect to postgres://alice:***@127.0.0.1:1/nowhere"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    error_line(&run.stderr);
}

#[tokio::test]
async fn up_missing_migrations_directory_error() {
    let p = Project::new("up_nodir").await;
    p.run(&["up"])
        .code(1)
        .stderr_has("migrations directory")
        .stderr_has("does not exist");
}

#[tokio::test]
async fn up_malformed_file_name_error_names_file() {
    let p = Project::new("up_malformed").await;
    p.write("migrations/create_users.up.sql", USERS);
    p.run(&["up"])
        .code(1)
        .stderr_has("malformed migration file name \"create_users.up.sql\"");
}

#[tokio::test]
async fn up_duplicate_version_error_names_both_files() {
    let p = Project::new("up_dup").await;
    p.migration("1", "a", "SELECT 1;\n", None);
    p.migration("1", "b", "SELECT 2;\n", None);
    p.run(&["up"])
        .code(1)
        .stderr_has("duplicate migration version 1: 1_a.up.sql and 1_b.up.sql");
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM pg_class WHERE relname = '_sqlx_migrations'")
            .await,
        0
    );
}

#[tokio::test]
async fn up_applied_file_missing_error() {
    let p = project("up_missing_file").await;
    p.run(&["up"]).success();
    std::fs::remove_file(p.path("migrations/20260101000000_create_users.up.sql")).unwrap();
    std::fs::remove_file(p.path("migrations/20260101000000_create_users.down.sql")).unwrap();
    p.migration("20260101000002", "c", "SELECT 1;\n", None);
    p.run(&["up"])
        .code(1)
        .stderr_has("migration 20260101000000 (create users) is applied but its file is missing");
    assert_eq!(versions(&p).await.len(), 2);
}

#[tokio::test]
async fn up_checksum_mismatch_error_names_file() {
    let p = project("up_mismatch").await;
    p.run(&["up"]).success();
    p.write(
        "migrations/20260101000000_create_users.up.sql",
        "CREATE TABLE users (id int);\n",
    );
    p.run(&["up"])
        .code(1)
        .stderr_has("migration 20260101000000 was applied but its file changed: 20260101000000_create_users.up.sql");
}

#[tokio::test]
async fn up_crlf_checkout_of_applied_file_not_a_mismatch() {
    let p = project("up_crlf").await;
    p.run(&["up"]).success();
    p.write(
        "migrations/20260101000000_create_users.up.sql",
        USERS.replace('\n', "\r\n"),
    );
    p.run(&["up"]).success().stdout_has("nothing to apply");
}

#[tokio::test]
async fn up_concurrent_runs_apply_each_migration_once() {
    let p = project("up_concurrent").await;
    for i in 2..12 {
        p.migration(
            &format!("202601010000{i:02}"),
            "step",
            &format!("CREATE TABLE t{i} (id int);\nSELECT pg_sleep(0.02);\n"),
            None,
        );
    }
    let children: Vec<_> = (0..4)
        .map(|_| {
            p.command(&["up"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(versions(&p).await.len(), 12);
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM migrated_events WHERE direction = 'up'")
            .await,
        12
    );
}

#[tokio::test]
async fn up_sql_prints_plan_and_touches_nothing() {
    let p = project("up_sql").await;
    let run = p.run(&["up", "--sql"]).success();
    assert!(
        run.stdout
            .contains("CREATE TABLE IF NOT EXISTS _sqlx_migrations"),
        "{}",
        run.stdout
    );
    assert_eq!(run.stdout.matches("BEGIN;").count(), 2, "{}", run.stdout);
    assert!(
        run.stdout.contains("INSERT INTO _sqlx_migrations"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(USERS.trim()), "{}", run.stdout);
    assert_eq!(
        p.db.scalar_i64(
            "SELECT count(*) FROM pg_class WHERE relname IN ('_sqlx_migrations', 'users')"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn status_reports_current_pending_and_json() {
    let p = project("status").await;
    p.run(&["up", "+1"]).success();
    let run = p.run(&["status"]).success();
    assert!(
        run.stdout.contains("current   20260101000000"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("pending   1"), "{}", run.stdout);
    assert!(
        run.stdout.contains("20260101000001 create posts"),
        "{}",
        run.stdout
    );
    let json: serde_json::Value =
        serde_json::from_str(&p.run(&["status", "--json"]).success().stdout).unwrap();
    assert_eq!(json["current"], 20_260_101_000_000_i64);
    assert_eq!(json["head"], 20_260_101_000_001_i64);
    assert_eq!(json["applied"][0]["checksum_ok"], true);
    assert_eq!(
        json["pending"][0]["file"],
        "20260101000001_create_posts.up.sql"
    );
    assert!(json["failed"].as_array().unwrap().is_empty());
    assert!(json.get("draft").is_some() && json.get("drift").is_some());
    // status never creates anything
    let fresh = Project::new("status_fresh").await;
    fresh.write("migrations/1_a.up.sql", "SELECT 1;\n");
    fresh
        .run(&["status"])
        .success()
        .stdout_has("current   base");
    assert_eq!(
        fresh
            .db
            .scalar_i64("SELECT count(*) FROM pg_class WHERE relname = '_sqlx_migrations'")
            .await,
        0
    );
}

#[tokio::test]
async fn up_advisory_lock_held_times_out_naming_holder() {
    let p = project("up_lock_held").await;
    p.write(
        "config/migrated.toml",
        "[apply]\nadvisory_lock_timeout_secs = 1\n",
    );
    let mut holder = p.db.conn().await;
    let key = migrated::db::lock::key(&p.db.name);
    sqlx::query(
        "SELECT set_config('application_name', 'lock_holder_test', false), pg_advisory_lock($1)",
    )
    .bind(key)
    .execute(&mut holder)
    .await
    .unwrap();
    let run = p.run(&["up"]).code(1);
    let err = error_line(&run.stderr);
    for needle in [
        "timed out after 1s waiting for the migration lock",
        "held by pid",
        "application_name \"lock_holder_test\"",
        "client ",
    ] {
        assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
    }
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM pg_class WHERE relname = 'users'")
            .await,
        0
    );
    sqlx::Connection::close(holder).await.unwrap();
    p.run(&["up"]).success();
}
