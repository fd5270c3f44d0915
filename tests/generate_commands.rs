//! `check`, `diff`, `lint` and `commit` around generated and hand-written migrations.

mod common;

use common::Project;

const USERS: &str = "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL);\n";
const USERS_WITH_NAME: &str =
    "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text);\n";

fn files(p: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(p.path("migrations"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

async fn generated(label: &str) -> Project {
    let p = Project::new(label).await;
    p.write("models/users.sql", USERS);
    p.run(&["generate", "-m", "users"]).success();
    p
}

#[tokio::test]
async fn check_models_equal_head_passes() {
    let p = generated("checkok").await;
    p.run(&["check"]).success().stdout_has("ok");
}

#[tokio::test]
async fn check_models_changed_fails_with_the_difference() {
    let p = generated("checkdiff").await;
    p.write("models/users.sql", USERS_WITH_NAME);
    p.run(&["check"])
        .code(1)
        .stdout_has("the models differ from the head state")
        .stdout_has("add column public.users.name");
}

#[tokio::test]
async fn check_stale_sum_fails() {
    let p = generated("checksum").await;
    p.migration(
        "20990101000000",
        "by_hand",
        "SELECT 1;\n",
        Some("SELECT 1;\n"),
    );
    p.run(&["check"])
        .code(1)
        .stdout_has("migrated.sum is stale");
}

#[tokio::test]
async fn check_draft_present_fails() {
    let p = generated("checkdraft").await;
    p.migration(
        "20990101000000",
        "draft",
        "SELECT 1;\n",
        Some("SELECT 1;\n"),
    );
    p.run(&["check"])
        .code(1)
        .stdout_has("a draft migration exists");
}

#[tokio::test]
async fn diff_migrations_to_models_prints_up_and_down() {
    let p = generated("diffdirs").await;
    p.write("models/users.sql", USERS_WITH_NAME);
    let up = p
        .run(&["diff", "--from", "migrations:migrations", "--to", "models"])
        .success();
    assert!(up.stdout.contains("ADD COLUMN name text"), "{}", up.stdout);
    let down = p
        .run(&[
            "diff",
            "--from",
            "migrations:migrations",
            "--to",
            "models",
            "--down",
        ])
        .success();
    assert!(down.stdout.contains("DROP COLUMN name"), "{}", down.stdout);
    // Temporary shadows are gone.
    let left =
        p.db.strings(&format!(
            "SELECT datname::text FROM pg_database WHERE datname LIKE '{}\\_shadow\\_tmp%'",
            p.db.name
        ))
        .await;
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn diff_url_to_models_creates_what_is_missing() {
    let p = Project::new("diffurl").await;
    p.write("models/users.sql", USERS);
    p.db.exec("CREATE TABLE legacy (id int)").await;
    let run = p
        .run(&["diff", "--from", &p.db.url, "--to", "models"])
        .success();
    assert!(
        run.stdout.contains("CREATE TABLE public.users"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("DROP TABLE public.legacy"),
        "{}",
        run.stdout
    );
    let same = p
        .run(&["diff", "--from", &p.db.url, "--to", &p.db.url])
        .success();
    assert!(same.stdout.contains("no changes"), "{}", same.stdout);
}

#[tokio::test]
async fn lint_hand_written_migration_flags_hazards_with_position() {
    let p = Project::new("lint").await;
    p.migration(
        "20260101000000",
        "create",
        "CREATE TABLE users (id int PRIMARY KEY, email text);\nCREATE INDEX users_email ON users (email);\n",
        Some("DROP TABLE users;\n"),
    );
    p.migration(
        "20260102000000",
        "risky",
        "-- tidy up\nALTER TABLE users DROP COLUMN email;\nALTER TABLE users ALTER COLUMN id TYPE bigint;\nCREATE INDEX users_id ON users (id);\n",
        Some("SELECT 1;\n"),
    );
    let run = p.run(&["lint"]).code(1);
    assert!(
        run.stdout
            .contains("migrations/20260102000000_risky.up.sql:2:19: data-loss (ban-drop-column)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(":3:35: table-rewrite (changing-column-type)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(":4:1: index-build (require-concurrent-index-creation)"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("20260101000000_create"),
        "a new table's index is fine:\n{}",
        run.stdout
    );
    p.run(&["lint", "20260101000000"])
        .success()
        .stdout_has("no hazards");
}

#[tokio::test]
async fn commit_names_the_draft_and_its_applied_row() {
    let p = Project::new("commit").await;
    p.migration(
        "20260101000000",
        "draft",
        "-- draft (up): generated by migrated from the models\nCREATE TABLE users (id int);\n",
        Some("-- draft (down): generated by migrated from the models\nDROP TABLE users;\n"),
    );
    p.run(&["up"]).success();
    let run = p.run(&["commit", "-m", "Create users"]).success();
    assert!(
        run.stdout.contains("20260101000000_create_users.up.sql"),
        "{}",
        run.stdout
    );
    let names = files(&p);
    assert_eq!(
        names,
        [
            "20260101000000_create_users.down.sql",
            "20260101000000_create_users.up.sql",
            "migrated.sum"
        ]
    );
    assert!(
        p.read("migrations/20260101000000_create_users.up.sql")
            .starts_with("-- Create users (up)")
    );
    let description =
        p.db.strings("SELECT description FROM _sqlx_migrations WHERE version = 20260101000000")
            .await;
    assert_eq!(description, ["create users"]);
    p.run(&["validate"]).success();
    p.run(&["commit", "-m", "again"])
        .code(1)
        .stderr_has("no draft");
}
