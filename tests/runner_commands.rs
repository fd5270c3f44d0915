//! `down`, `current`, `stamp`, `history`, `validate`, `repair` and `init` against a real
//! PostgreSQL, including every error that must stop them before anything is touched.

mod common;

use common::Project;

const V1: &str = "20260101000000";
const V2: &str = "20260101000001";
const V3: &str = "20260101000002";

async fn project(label: &str) -> Project {
    let p = Project::new(label).await;
    p.migration(
        V1,
        "create_users",
        "CREATE TABLE users (id int);\n",
        Some("DROP TABLE users;\n"),
    );
    p.migration(
        V2,
        "create_posts",
        "CREATE TABLE posts (id int);\n",
        Some("DROP TABLE posts;\n"),
    );
    p.migration(
        V3,
        "create_tags",
        "CREATE TABLE tags (id int);\n",
        Some("DROP TABLE tags;\n"),
    );
    p
}

async fn versions(p: &Project) -> Vec<String> {
    p.db.strings("SELECT version::text FROM _sqlx_migrations ORDER BY version")
        .await
}

async fn has_table(p: &Project, name: &str) -> bool {
    p.db.scalar_i64(&format!(
        "SELECT count(*) FROM pg_class WHERE relname = '{name}' AND relkind = 'r'"
    ))
    .await
        == 1
}

/// Writes a fresh migrated.sum (as the generator would): `repair` with no database.
fn resum(p: &Project) {
    let out = p
        .command(&["repair"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn down_default_reverts_last_and_records_event() {
    let p = project("down_default").await;
    p.run(&["up"]).success();
    p.run(&["down"])
        .success()
        .stdout_has(&format!("reverted {V3} create tags"));
    assert_eq!(versions(&p).await, [V1, V2]);
    assert!(!has_table(&p, "tags").await);
    assert_eq!(
        p.db.strings(
            "SELECT direction || ' ' || version FROM migrated_events ORDER BY id DESC LIMIT 1"
        )
        .await,
        [format!("down {V3}")]
    );
}

#[tokio::test]
async fn down_targets_n_version_and_base() {
    let p = project("down_targets").await;
    p.run(&["up"]).success();
    p.run(&["down", "-2"]).success();
    assert_eq!(versions(&p).await, [V1]);
    p.run(&["up"]).success();
    p.run(&["down", V1])
        .success()
        .stdout_has(&format!("the database is at {V1}"));
    assert_eq!(versions(&p).await, [V1]);
    p.run(&["down", "base"])
        .success()
        .stdout_has("the database is at base");
    assert!(versions(&p).await.is_empty());
    assert!(!has_table(&p, "users").await);
    p.run(&["down"])
        .code(1)
        .stderr_has("cannot go back 1 migrations: only 0 are applied");
    p.run(&["down", "head"])
        .code(2)
        .stderr_has("invalid target \"head\"");
}

#[tokio::test]
async fn down_missing_down_file_errors_before_touching_anything() {
    let p = project("down_missing").await;
    p.migration(
        "20260101000003",
        "irreversible",
        "CREATE TABLE x (id int);\n",
        None,
    );
    p.run(&["up"]).success();
    p.run(&["down", "-2"]).code(1).stderr_has(
        "migration 20260101000003 has no down file (expected 20260101000003_irreversible.down.sql)",
    );
    assert_eq!(versions(&p).await.len(), 4);
    assert!(has_table(&p, "x").await);
}

#[tokio::test]
async fn down_failure_rolls_back_and_says_how_far() {
    let p = project("down_fail").await;
    p.run(&["up"]).success();
    p.write(
        format!("migrations/{V2}_create_posts.down.sql"),
        "DROP TABLE posts;\nDROP TABLE nope;\n",
    );
    p.run(&["down", "base"])
        .code(1)
        .stderr_has(&format!(
            "reverting migration {V2} (create posts) failed at {V2}_create_posts.down.sql:2"
        ))
        .stderr_has(&format!("reverted before it: {V3}"));
    assert_eq!(versions(&p).await, [V1, V2]);
    assert!(has_table(&p, "posts").await);
}

#[tokio::test]
async fn down_sql_prints_and_touches_nothing() {
    let p = project("down_sql").await;
    p.run(&["up"]).success();
    let run = p.run(&["down", "-2", "--sql"]).success();
    let tags = run.stdout.find("DROP TABLE tags").unwrap();
    let posts = run.stdout.find("DROP TABLE posts").unwrap();
    assert!(tags < posts, "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!(
            "DELETE FROM _sqlx_migrations WHERE version = {V3};\nCOMMIT;"
        )),
        "{}",
        run.stdout
    );
    assert_eq!(versions(&p).await.len(), 3);
}

#[tokio::test]
async fn current_prints_version_or_base() {
    let p = project("current").await;
    p.run(&["current"]).success().stdout_has("base");
    p.run(&["up", "+2"]).success();
    assert_eq!(p.run(&["current"]).success().stdout.trim(), V2);
}

#[tokio::test]
async fn stamp_records_without_running_sql() {
    let p = project("stamp").await;
    p.run(&["stamp", V2])
        .success()
        .stdout_has(&format!("stamped {V2}"));
    assert_eq!(versions(&p).await, [V1, V2]);
    assert!(!has_table(&p, "users").await, "stamp must not run SQL");
    p.run(&["up"]).success();
    assert!(has_table(&p, "tags").await);
    p.run(&["stamp", V1])
        .success()
        .stdout_has(&format!("unstamped {V3}"));
    assert_eq!(versions(&p).await, [V1]);
    p.run(&["stamp", "head"]).success();
    assert_eq!(versions(&p).await.len(), 3);
    p.run(&["stamp", "base"]).success();
    assert!(versions(&p).await.is_empty());
    p.run(&["stamp", "42"])
        .code(1)
        .stderr_has("unknown migration version 42");
    p.run(&["stamp", "nope"]).code(2);
    assert!(
        p.db.scalar_i64("SELECT count(*) FROM migrated_events WHERE direction = 'stamp'")
            .await
            >= 7
    );
}

#[tokio::test]
async fn history_lists_applied_and_events_json() {
    let p = project("history").await;
    p.run(&["up"]).success();
    p.run(&["down"]).success();
    let text = p.run(&["history"]).success().stdout;
    assert!(text.contains("applied migrations (2)"), "{text}");
    assert!(text.contains("events (4)"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&p.run(&["history", "--json"]).success().stdout).unwrap();
    assert_eq!(json["applied"].as_array().unwrap().len(), 2);
    let events = json["events"].as_array().unwrap();
    assert_eq!(events.len(), 4);
    assert_eq!(events[3]["direction"], "down");
    assert_eq!(events[3]["version"], 20_260_101_000_002_i64);
    for key in [
        "started_at",
        "duration_ms",
        "host",
        "tool_version",
        "success",
        "error",
        "backup_file",
    ] {
        assert!(events[0].get(key).is_some(), "event lacks {key}");
    }
}

#[tokio::test]
async fn validate_ok_then_checksum_mismatch_names_file() {
    let p = project("validate").await;
    resum(&p);
    p.run(&["up"]).success();
    p.run(&["validate"])
        .success()
        .stdout_has("ok: 3 applied migration(s) match their files");
    p.write(
        format!("migrations/{V1}_create_users.up.sql"),
        "CREATE TABLE users (id bigint);\n",
    );
    p.run(&["validate"])
        .code(1)
        .stderr_has(&format!(
            "migration {V1} was applied but its file changed: {V1}_create_users.up.sql"
        ))
        .stderr_has(&format!(
            "migration file {V1}_create_users.up.sql was changed after migrated.sum was written"
        ));
}

#[tokio::test]
async fn validate_sum_missing_stale_tampered() {
    let p = project("validate_sum").await;
    p.run(&["validate"])
        .code(1)
        .stderr_has("migrated.sum is missing");
    resum(&p);
    p.run(&["validate"]).success();
    p.migration("20260101000009", "late", "SELECT 1;\n", None);
    p.run(&["validate"]).code(1).stderr_has(
        "migrated.sum is stale: migration file 20260101000009_late.up.sql is not listed in it",
    );
    std::fs::remove_file(p.path("migrations/20260101000009_late.up.sql")).unwrap();
    let sum = p.read("migrations/migrated.sum");
    p.write(
        "migrations/migrated.sum",
        sum.replace("create_posts.up.sql", "create_pasts.up.sql"),
    );
    p.run(&["validate"])
        .code(1)
        .stderr_has("migrated.sum was edited by hand");
    std::fs::remove_file(p.path(format!("migrations/{V3}_create_tags.down.sql"))).unwrap();
    p.write("migrations/migrated.sum", &sum);
    p.run(&["validate"]).code(1).stderr_has(&format!(
        "it lists {V3}_create_tags.down.sql, which does not exist"
    ));
}

#[tokio::test]
async fn validate_applied_missing_and_crlf_checkout() {
    let p = project("validate_missing").await;
    p.run(&["up"]).success();
    resum(&p);
    for v in [
        (V1, "create_users"),
        (V2, "create_posts"),
        (V3, "create_tags"),
    ] {
        let path = format!("migrations/{}_{}.up.sql", v.0, v.1);
        let text = p.read(&path);
        p.write(&path, text.replace('\n', "\r\n"));
    }
    p.run(&["validate"]).success();
    std::fs::remove_file(p.path(format!("migrations/{V3}_create_tags.up.sql"))).unwrap();
    std::fs::remove_file(p.path(format!("migrations/{V3}_create_tags.down.sql"))).unwrap();
    resum(&p);
    p.run(&["validate"]).code(1).stderr_has(&format!(
        "migration {V3} (create tags) is applied but its file is missing"
    ));
}

#[tokio::test]
async fn repair_realigns_edited_file_removes_failed_rows_and_rewrites_sum() {
    let p = project("repair").await;
    p.run(&["up"]).success();
    p.write(
        format!("migrations/{V1}_create_users.up.sql"),
        "CREATE TABLE users (id int); -- reviewed\n",
    );
    p.db.exec(&format!(
        "UPDATE _sqlx_migrations SET success = false WHERE version = {V3}"
    ))
    .await;
    p.run(&["up"]).code(1).stderr_has("checksum mismatch");
    let run = p.run(&["repair"]).success();
    assert!(
        run.stdout
            .contains(&format!("realigned {V1} with {V1}_create_users.up.sql")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("removed failed entry {V3}")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("migrated.sum"), "{}", run.stdout);
    p.run(&["validate"]).success();
    assert_eq!(versions(&p).await, [V1, V2]);
    assert_eq!(
        p.db.strings("SELECT version || ' ' || detail FROM migrated_events WHERE direction = 'repair' ORDER BY id").await,
        [
            format!("{V1} checksum and description realigned with the file"),
            format!("{V3} failed entry removed")
        ]
    );
    p.db.exec("DROP TABLE tags").await;
    p.run(&["up"]).success();
    p.run(&["repair"]).success().stdout_has("nothing to repair");
}

#[tokio::test]
async fn status_shows_failed_rows_and_problems() {
    let p = project("status_failed").await;
    p.run(&["up"]).success();
    p.db.exec(&format!(
        "UPDATE _sqlx_migrations SET success = false WHERE version = {V3}"
    ))
    .await;
    let json: serde_json::Value =
        serde_json::from_str(&p.run(&["status", "--json"]).success().stdout).unwrap();
    assert_eq!(json["failed"][0]["version"], 20_260_101_000_002_i64);
    assert_eq!(json["current"], 20_260_101_000_001_i64);
    assert!(
        json["problems"][0]
            .as_str()
            .unwrap()
            .contains("recorded as failed")
    );
    p.run(&["up"])
        .code(1)
        .stderr_has("is recorded as failed")
        .stderr_has("migrated repair");
}

#[tokio::test]
async fn init_scaffolds_project_that_works() {
    let p = Project::new("init").await;
    p.run(&["init", "app"]).success().stdout_has("created");
    for path in ["app/config/migrated.toml", "app/migrations/migrated.sum"] {
        assert!(p.path(path).is_file(), "{path}");
    }
    assert!(p.path("app/models").is_dir());
    let config = p.read("app/config/migrated.toml");
    for key in [
        "lock_timeout_ms",
        "advisory_lock_timeout_secs",
        "allow_destructive",
        "wait_timeout_secs",
        "rollback_on_fail",
    ] {
        assert!(
            config.contains(&format!("# {key} = ")),
            "{key} missing from the template"
        );
    }
    let again = p.run(&["init", "app"]).success();
    assert!(!again.stdout.contains("created"), "{}", again.stdout);
    std::fs::rename(p.path("app"), p.path("proj")).unwrap();
    let in_proj = |args: &[&str]| {
        let out = p
            .command(args)
            .current_dir(p.path("proj"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, _, stderr) = in_proj(&["validate"]);
    assert_eq!(code, Some(0), "{stderr}");
    std::fs::write(
        p.path("proj/migrations/1_a.up.sql"),
        "CREATE TABLE a (id int);\n",
    )
    .unwrap();
    let (code, stdout, stderr) = in_proj(&["up"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("applied 1 a"), "{stdout}");
}

/// `up` applies what the files say when the sum is stale, and says so on stderr; without a
/// sum file (a plain sqlx-cli project) it says nothing.
#[tokio::test]
async fn up_warns_on_a_stale_sum_and_applies() {
    let p = project("up_stale_sum").await;
    let quiet = p.run(&["up", "+1"]).success();
    assert!(!quiet.stderr.contains("migrated.sum"), "{}", quiet.stderr);
    resum(&p);
    p.migration("20260101000009", "late", "SELECT 1;\n", None);
    p.run(&["up"]).success().stderr_has(
        "migrated.sum is stale: migration file 20260101000009_late.up.sql is not listed in it; applying anyway",
    );
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM _sqlx_migrations WHERE version = 20260101000009")
            .await,
        1
    );
}
