//! The development daemon as a process on a temp project: initial sync, model edits reaching
//! the database, broken models, the destructive gate, signals and config reload.

mod common;
mod watch_support;

use common::{Project, TestDb};
use watch_support::{Daemon, eventually};

const USERS: &str = "CREATE TABLE users (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n    email text NOT NULL\n);\n";

async fn columns(db: &TestDb, table: &str) -> Vec<String> {
    db.strings(&format!(
        "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '{table}' ORDER BY ordinal_position"
    ))
    .await
}

async fn tables(db: &TestDb) -> Vec<String> {
    db.strings("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename NOT IN ('_sqlx_migrations', 'migrated_events') ORDER BY 1").await
}

fn project_with(p: &Project, users: &str) {
    p.write("models/users.sql", users);
    std::fs::create_dir_all(p.path("migrations")).unwrap();
}

fn start(p: &Project) -> Daemon {
    Daemon::spawn(p.command(&["watch"]))
}

/// Adds a text column `column` to the users model and waits until the database has it.
async fn add_users_column(p: &Project, d: &Daemon, column: &str) {
    p.write(
        "models/users.sql",
        USERS.replace(
            "email text NOT NULL",
            &format!("email text NOT NULL,\n    {column} text"),
        ),
    );
    eventually(&format!("column {column}"), d, || async {
        columns(&p.db, "users").await.contains(&column.to_owned())
    })
    .await;
}

/// A project whose models hold `USERS`, with the daemon started and its first pass done.
async fn synced(label: &str) -> (Project, Daemon) {
    let p = Project::new(label).await;
    project_with(&p, USERS);
    let d = start(&p);
    d.wait_for(&["watcher.started"], 1);
    eventually("users table", &d, || async {
        tables(&p.db).await == ["users"]
    })
    .await;
    (p, d)
}

#[tokio::test]
async fn watch_initial_sync_then_edits_reach_the_database() {
    let (p, d) = synced("watch_edits").await;
    assert!(std::fs::read_dir(p.path("migrations")).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with("_draft.up.sql")
    }));

    // add column
    add_users_column(&p, &d, "name").await;

    // add table (in another file, referencing the first)
    p.write("models/posts.sql", "CREATE TABLE posts (id bigint PRIMARY KEY, author_id bigint REFERENCES users (id), title text);\n");
    eventually("posts table", &d, || async {
        tables(&p.db).await == ["posts", "users"]
    })
    .await;

    // add index
    p.write("models/posts.sql", "CREATE TABLE posts (id bigint PRIMARY KEY, author_id bigint REFERENCES users (id), title text);\nCREATE INDEX posts_title_idx ON posts (title);\n");
    eventually("index", &d, || async {
        p.db.scalar_i64("SELECT count(*) FROM pg_indexes WHERE indexname = 'posts_title_idx'")
            .await
            == 1
    })
    .await;

    // rename by hint keeps the data
    p.db.exec("INSERT INTO posts VALUES (1, NULL, 'kept')")
        .await;
    p.write(
        "models/posts.sql",
        "CREATE TABLE posts (id bigint PRIMARY KEY, author_id bigint REFERENCES users (id),\n    headline text -- migrated:renamed from=title\n);\nCREATE INDEX posts_title_idx ON posts (headline);\n",
    );
    eventually("renamed column", &d, || async {
        columns(&p.db, "posts").await == ["id", "author_id", "headline"]
    })
    .await;
    assert_eq!(p.db.strings("SELECT headline FROM posts").await, ["kept"]);

    // the draft is one migration, recorded with the file's checksum
    let drafts: Vec<String> = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("_draft."))
        .collect();
    assert_eq!(drafts.len(), 2, "{drafts:?}");
    assert_eq!(
        p.db.scalar_i64("SELECT count(*) FROM _sqlx_migrations WHERE description = 'draft'")
            .await,
        1
    );
    p.run(&["validate"]).success();
}

/// Reading the models must not count as changing them: the daemon's own reads once
/// re-triggered a pass forever (inotify reports opens and closes).
#[tokio::test]
async fn watch_idle_daemon_runs_no_pass_on_its_own() {
    let (_p, d) = synced("watch_idle").await;
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(d.count(&["models.changed"]), 0, "{}", d.output());
    assert_eq!(d.count(&["migration.generated"]), 1, "{}", d.output());
}

#[tokio::test]
async fn watch_broken_model_is_reported_and_the_database_left_alone() {
    let (p, d) = synced("watch_broken").await;
    p.write(
        "models/users.sql",
        "CREATE TABLE users (\n    id bigint PRIMARY KEY,\n    email text NOT NULL,,\n);\n",
    );
    d.wait_for(&["models.invalid", "users.sql:3"], 1);
    assert_eq!(columns(&p.db, "users").await, ["id", "email"]);
    p.write(
        "models/users.sql",
        USERS.replace("email text NOT NULL", "email text NOT NULL,\n    age int"),
    );
    eventually("recovered", &d, || async {
        columns(&p.db, "users").await == ["id", "email", "age"]
    })
    .await;
}

#[tokio::test]
async fn watch_destructive_change_is_written_but_blocked() {
    let p = Project::new("watch_destructive").await;
    project_with(
        &p,
        &USERS.replace(
            "email text NOT NULL",
            "email text NOT NULL,\n    nickname text",
        ),
    );
    p.run(&["generate", "-m", "users"]).success();
    let d = start(&p);
    eventually("users table", &d, || async {
        columns(&p.db, "users").await == ["id", "email", "nickname"]
    })
    .await;
    p.db.exec("INSERT INTO users (email, nickname) VALUES ('a@x', 'a'), ('b@x', NULL)")
        .await;
    p.write("models/users.sql", USERS);
    d.wait_for(&["migration.blocked", "nickname", "1 non-null values"], 1);
    assert_eq!(columns(&p.db, "users").await, ["id", "email", "nickname"]);
    let draft = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("_draft.up.sql"))
        .unwrap();
    let text = std::fs::read_to_string(draft).unwrap();
    assert!(text.contains("DROP COLUMN nickname"), "{text}");
}

#[tokio::test]
async fn watch_sigterm_exits_zero_and_sighup_reloads() {
    let (p, mut d) = synced("watch_signals").await;
    p.write("config/migrated.toml", "[watch]\nauto_apply = false\n");
    d.signal("HUP");
    d.wait_for(&["config.reloaded"], 1);
    p.write(
        "models/users.sql",
        USERS.replace("email text NOT NULL", "email text NOT NULL,\n    note text"),
    );
    d.wait_for(&["migration.generated"], 2);
    assert_eq!(
        columns(&p.db, "users").await,
        ["id", "email"],
        "auto_apply = false after reload"
    );
    d.signal("TERM");
    assert_eq!(d.wait_exit(), Some(0), "{}", d.output());
    assert_eq!(d.count(&["watcher.stopped"]), 1);
    let log = std::fs::read_to_string(p.path("logs/migrated.log")).unwrap();
    assert!(log.contains("watcher.stopped"), "{log}");
}

#[tokio::test]
async fn watch_refuses_production_mode() {
    let p = Project::new("watch_prod").await;
    project_with(&p, USERS);
    p.write("config/migrated.toml", "mode = \"production\"\n");
    p.run(&["watch"]).code(2).stderr_has("production");
}

#[tokio::test]
async fn watch_draft_named_by_commit_then_check_passes() {
    let (p, mut d) = synced("watch_commit").await;
    d.wait_for(&["migration.applied"], 1);
    p.run(&["check"]).code(1).stdout_has("draft");
    d.signal("TERM");
    assert_eq!(d.wait_exit(), Some(0));
    p.run(&["commit", "-m", "create users"]).success();
    let names: Vec<String> = std::fs::read_dir(p.path("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            std::path::Path::new(n)
                .extension()
                .is_some_and(|e| e == "sql")
        })
        .collect();
    assert!(
        names.iter().all(|n| n.contains("_create_users.")),
        "{names:?}"
    );
    p.run(&["check"]).success();
    p.run(&["validate"]).success();
    assert_eq!(
        p.db.strings("SELECT description FROM _sqlx_migrations")
            .await,
        ["create users"]
    );
}

/// `commit` while the daemon runs: the daemon sees the renamed files, applies nothing twice,
/// and the next edit makes a new draft on top of the committed migration.
#[tokio::test]
async fn watch_commit_while_running_then_next_edit_drafts_on_top() {
    let (p, d) = synced("watch_commit_live").await;
    d.wait_for(&["migration.applied"], 1);
    p.run(&["commit", "-m", "create users"]).success();
    add_users_column(&p, &d, "nick").await;
    assert_eq!(d.count(&["migration.failed"]), 0, "{}", d.output());
    let mut rows =
        p.db.strings("SELECT description FROM _sqlx_migrations ORDER BY version")
            .await;
    rows.sort();
    assert_eq!(rows, ["create users", "draft"], "{}", d.output());
}

/// The watcher after `generate` (which caches its verification's snapshot of the next head
/// state only as a prediction: objects it created have other oids in the head shadow): the
/// first pass settles the prediction into a real entry, and what the daemon keeps in memory
/// reaches the shadows' caches when it stops.
#[tokio::test]
async fn watch_settles_the_predicted_head_snapshot_and_flushes_its_cache() {
    let p = Project::new("watch_settle").await;
    project_with(&p, USERS);
    p.run(&["generate", "-m", "init"]).success();
    p.run(&["up"]).success();
    let mut d = start(&p);
    d.wait_for(&["watcher.started"], 1);
    add_users_column(&p, &d, "name").await;
    d.signal("TERM");
    assert_eq!(d.wait_exit(), Some(0));
    let cache = async |database: &str| -> Vec<String> {
        use sqlx::Connection as _;
        let url = common::url_with_database(&p.db.url, database);
        let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT key FROM _migrated_schema_cache ORDER BY seq")
            .fetch_all(&mut conn)
            .await
            .unwrap()
    };
    let head = cache(&format!("{}_shadow_head", p.db.name)).await;
    let predicted: Vec<&String> = head
        .iter()
        .filter(|k| k.starts_with("predicted:"))
        .collect();
    assert_eq!(predicted.len(), 1, "{head:?}");
    let settled = predicted[0].trim_start_matches("predicted:");
    assert!(head.iter().any(|k| k == settled), "{head:?}");
    assert_eq!(cache(&format!("{}_shadow", p.db.name)).await, ["desired"]);
}
