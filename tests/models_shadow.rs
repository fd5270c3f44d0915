//! The shadow databases: incremental loading of the models (asserted through the
//! bookkeeping), model errors reported as file:line, and the cached head replay.

mod common;

use std::fmt::Write as _;

use common::TestDb;
use migrated::config::DatabaseUrl;
use migrated::core::models::{self, ModelSet, Source};
use migrated::shadow::{Shadows, desired, head};

const MODELS: &str = "CREATE TABLE users (id int PRIMARY KEY, name text);\n\
    CREATE TABLE posts (id int PRIMARY KEY, author int REFERENCES users (id), title text);\n\
    CREATE INDEX CONCURRENTLY posts_title ON posts (title);\n\
    CREATE TABLE tags (id int PRIMARY KEY, label text);\n\
    CREATE VIEW post_authors AS SELECT p.id, u.name FROM posts p JOIN users u ON u.id = p.author;\n";

fn load(name: &str, text: &str) -> ModelSet {
    models::load(&[Source {
        name: name.into(),
        text: text.into(),
    }])
    .unwrap()
}

fn shadows(db: &TestDb) -> Shadows {
    Shadows::new(Some(&DatabaseUrl::new(db.url.clone())), None, true).unwrap()
}

async fn shadow_db(db: &TestDb) -> TestDbView {
    TestDbView {
        url: common::url_with_database(&db.url, &format!("{}_shadow", db.name)),
    }
}

/// Queries on the shadow itself (owned by the TestDb's cleanup).
struct TestDbView {
    url: String,
}

impl TestDbView {
    async fn strings(&self, sql: &str) -> Vec<String> {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
        sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_all(&mut conn)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn shadow_first_load_builds_then_same_models_do_nothing() {
    let db = TestDb::new("shadowfirst").await;
    let s = shadows(&db);
    let set = load("m.sql", MODELS);
    let first = desired::update(&s.desired, &set).await.unwrap();
    assert!(first.rebuilt);
    assert_eq!(first.ran, 5);
    let second = desired::update(&s.desired, &set).await.unwrap();
    assert_eq!(second, desired::Report::default());
}

#[tokio::test]
async fn shadow_changed_table_reruns_only_it_and_its_dependents() {
    let db = TestDb::new("shadowincr").await;
    let s = shadows(&db);
    desired::update(&s.desired, &load("m.sql", MODELS))
        .await
        .unwrap();
    let view = shadow_db(&db).await;
    let before = view
        .strings("SELECT seq || ' ' || file || ':' || line FROM _migrated_shadow ORDER BY seq")
        .await;
    // A leaf change: only `tags` is dropped and re-run.
    let changed = MODELS.replace("label text", "label text NOT NULL");
    let report = desired::update(&s.desired, &load("m.sql", &changed))
        .await
        .unwrap();
    assert_eq!((report.rebuilt, report.dropped, report.ran), (false, 1, 1));
    let after = view
        .strings("SELECT seq || ' ' || file || ':' || line FROM _migrated_shadow ORDER BY seq")
        .await;
    assert_eq!(
        after[..3],
        before[..3],
        "users, posts and its index were not touched"
    );
    assert_eq!(after[3], before[4], "the view was not touched");
    let not_null = view
        .strings("SELECT attnotnull::text FROM pg_attribute WHERE attrelid = 'tags'::regclass AND attname = 'label'")
        .await;
    assert_eq!(not_null, ["true"]);
    // A root change: users and the view reading it; posts only holds a key to users, which
    // is detached and attached again.
    let changed = changed.replace("name text)", "name text, email text)");
    let report = desired::update(&s.desired, &load("m.sql", &changed))
        .await
        .unwrap();
    assert_eq!((report.rebuilt, report.dropped, report.ran), (false, 2, 2));
    let columns = view
        .strings("SELECT attname::text FROM pg_attribute WHERE attrelid = 'users'::regclass AND attnum > 0 ORDER BY attnum")
        .await;
    assert_eq!(columns, ["id", "name", "email"]);
    let keys = view
        .strings("SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'posts'::regclass AND contype = 'f'")
        .await;
    assert_eq!(
        keys,
        ["posts_author_fkey FOREIGN KEY (author) REFERENCES users(id)"]
    );
}

const KEYED: &str = "CREATE TABLE users (id int PRIMARY KEY, name text);\n\
    CREATE TABLE posts (id int PRIMARY KEY,\n  author int CONSTRAINT by_author REFERENCES users (id) ON DELETE CASCADE);\n\
    COMMENT ON CONSTRAINT by_author ON posts IS 'who wrote it';\n\
    CREATE TABLE likes (user_id int, post_id int, FOREIGN KEY (user_id) REFERENCES users);\n\
    ALTER TABLE likes ADD CONSTRAINT likes_post FOREIGN KEY (post_id) REFERENCES posts;\n";

#[tokio::test]
async fn shadow_recreated_table_keeps_the_keys_pointing_at_it() {
    let db = TestDb::new("shadowkeys").await;
    let s = shadows(&db);
    desired::update(&s.desired, &load("m.sql", KEYED))
        .await
        .unwrap();
    let view = shadow_db(&db).await;
    let keys_sql = "SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' \
        || coalesce(obj_description(oid, 'pg_constraint'), '-') \
        FROM pg_constraint WHERE contype = 'f' ORDER BY 1";
    let before = view.strings(keys_sql).await;
    assert_eq!(before.len(), 3, "{before:?}");
    // users and posts both change: the keys of likes on them are detached and attached again,
    // the explicit ALTER TABLE on posts is re-run.
    let changed = KEYED
        .replace("name text)", "name text, email text)")
        .replace(
            "(id int PRIMARY KEY,\n",
            "(id int PRIMARY KEY, title text,\n",
        );
    let report = desired::update(&s.desired, &load("m.sql", &changed))
        .await
        .unwrap();
    assert!(!report.rebuilt, "{report:?}");
    assert_eq!(view.strings(keys_sql).await, before);
    // users loses the column the keys point at: the error is the key holder's statement.
    let broken = changed.replace(
        "users (id int PRIMARY KEY, name text",
        "users (uid int PRIMARY KEY, name text",
    );
    let err = desired::update(&s.desired, &load("m.sql", &broken))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("m.sql:"), "{err}");
    assert!(
        err.contains("does not exist") || err.contains("no unique constraint"),
        "{err}"
    );
    assert_eq!(
        view.strings(keys_sql).await,
        before,
        "the failed update was rolled back"
    );
}

#[tokio::test]
async fn shadow_server_error_names_file_and_line_and_keeps_the_shadow() {
    let db = TestDb::new("shadowerr").await;
    let s = shadows(&db);
    desired::update(&s.desired, &load("models/m.sql", MODELS))
        .await
        .unwrap();
    let broken = MODELS.replace("label text", "label text,\n  kind no_such_type");
    let err = desired::update(&s.desired, &load("models/m.sql", &broken))
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(err, "models/m.sql:5: type \"no_such_type\" does not exist");
    let view = shadow_db(&db).await;
    let tables = view
        .strings("SELECT count(*)::text FROM _migrated_shadow")
        .await;
    assert_eq!(tables, ["5"], "the failed update was rolled back");
    // Fixing the model brings the shadow forward incrementally.
    let report = desired::update(&s.desired, &load("models/m.sql", MODELS))
        .await
        .unwrap();
    assert_eq!(report, desired::Report::default());
}

#[tokio::test]
async fn shadow_bookkeeping_out_of_step_rebuilds() {
    let db = TestDb::new("shadowstale").await;
    let s = shadows(&db);
    desired::update(&s.desired, &load("m.sql", MODELS))
        .await
        .unwrap();
    let view = shadow_db(&db).await;
    {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&view.url).await.unwrap();
        sqlx::raw_sql("CREATE VIEW stray AS SELECT * FROM tags")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let changed = MODELS.replace("label text", "label varchar(20)");
    let report = desired::update(&s.desired, &load("m.sql", &changed))
        .await
        .unwrap();
    assert!(report.rebuilt, "{report:?}");
    let stray = view
        .strings("SELECT relname::text FROM pg_class WHERE relname = 'stray'")
        .await;
    assert!(stray.is_empty(), "the rebuilt shadow holds only the models");
}

#[tokio::test]
async fn shadow_head_applies_only_appended_migrations() {
    let db = TestDb::new("shadowhead").await;
    let s = shadows(&db);
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, sql: &str| std::fs::write(dir.path().join(name), sql).unwrap();
    write(
        "20260101000000_users.up.sql",
        "CREATE TABLE users (id int);\n",
    );
    write("20260101000000_users.down.sql", "DROP TABLE users;\n");
    let files = head::committed(dir.path()).unwrap();
    let first = head::update(&s.head, &files).await.unwrap();
    assert_eq!(first.applied, 1);
    write(
        "20260102000000_posts.up.sql",
        "-- no-transaction\nCREATE TABLE posts (id int);\nCREATE INDEX CONCURRENTLY posts_id ON posts (id);\n",
    );
    let files = head::committed(dir.path()).unwrap();
    let second = head::update(&s.head, &files).await.unwrap();
    assert_eq!((second.rebuilt, second.applied), (false, 1));
    write(
        "20260101000000_users.up.sql",
        "CREATE TABLE users (id bigint);\n",
    );
    let files = head::committed(dir.path()).unwrap();
    let third = head::update(&s.head, &files).await.unwrap();
    assert_eq!((third.rebuilt, third.applied), (true, 2));
}

#[tokio::test]
async fn shadow_head_error_names_the_migration_file_and_line() {
    let db = TestDb::new("shadowheaderr").await;
    let s = shadows(&db);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("20260101000000_bad.up.sql"),
        "CREATE TABLE a (id int);\nCREATE TABLE b (id nope);\n",
    )
    .unwrap();
    let files = head::committed(dir.path()).unwrap();
    let err = format!("{:#}", head::update(&s.head, &files).await.unwrap_err());
    assert!(
        err.contains("20260101000000_bad.up.sql:2: type \"nope\" does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn shadow_settle_vacuums_catalogs_full_of_dead_rows() {
    let db = TestDb::new("shadowvacuum").await;
    let tables = |extra: &str| -> String {
        let mut sql = String::new();
        for i in 0..100 {
            let _ = writeln!(
                sql,
                "CREATE TABLE t{i} (id int PRIMARY KEY, a text, b text, c int, d int, e jsonb{extra});"
            );
        }
        sql
    };
    {
        let s = shadows(&db);
        desired::update(&s.desired, &load("m.sql", &tables("")))
            .await
            .unwrap();
        // Every table is dropped and created again: their catalog rows die.
        let report = desired::update(&s.desired, &load("m.sql", &tables(", f int")))
            .await
            .unwrap();
        assert_eq!((report.rebuilt, report.dropped), (false, 100));
    } // The pooled sessions end here, which sends their statistics.
    let view = shadow_db(&db).await;
    let due = "SELECT (pg_stat_get_dead_tuples('pg_attribute'::regclass) \
               > 50 + 0.2 * pg_stat_get_live_tuples('pg_attribute'::regclass))::text";
    let mut counted = false;
    for _ in 0..100 {
        counted = view.strings(due).await == ["true"];
        if counted {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(counted, "the dead rows of pg_attribute were never counted");
    // A new process: the update finds nothing to do, the pass ends with `settle`.
    let s = shadows(&db);
    let report = desired::update(&s.desired, &load("m.sql", &tables(", f int")))
        .await
        .unwrap();
    assert_eq!(report, desired::Report::default());
    s.settle().await;
    let vacuumed = view
        .strings(
            "SELECT vacuum_count::text FROM pg_stat_sys_tables WHERE relid = 'pg_attribute'::regclass",
        )
        .await;
    assert_eq!(vacuumed, ["1"], "settle vacuums pg_attribute once");
    assert_eq!(view.strings(due).await, ["false"]);
}
