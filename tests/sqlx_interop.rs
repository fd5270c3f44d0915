//! sqlx compatibility both ways: after `migrated up`, sqlx's own `Migrator` on the same
//! directory and database finds nothing pending and no checksum mismatch; after sqlx applied
//! the migrations, `migrated` finds nothing pending either. Same table, same checksums, same
//! descriptions, same advisory lock.

mod common;

use std::collections::BTreeMap;

use common::Project;
use sqlx::migrate::Migrator;

async fn project(label: &str) -> Project {
    let p = Project::new(label).await;
    p.migration(
        "20260101000000",
        "create_users",
        "CREATE TABLE users (id int);\n",
        Some("DROP TABLE users;\n"),
    );
    p.migration(
        "20260101000001",
        "index_users",
        "-- no-transaction\nCREATE INDEX CONCURRENTLY users_id ON users (id);\n",
        Some("DROP INDEX users_id;\n"),
    );
    p.write(
        "migrations/20260101000002_plain_sqlx_style.sql",
        "CREATE TABLE plain (id int);\r\n",
    );
    p
}

async fn rows(p: &Project) -> BTreeMap<i64, (String, Vec<u8>)> {
    let mut conn = p.db.conn().await;
    sqlx::query_as::<_, (i64, String, Vec<u8>)>(
        "SELECT version, description, checksum FROM _sqlx_migrations",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|(v, d, c)| (v, (d, c)))
    .collect()
}

#[tokio::test]
async fn sqlx_migrator_after_migrated_up_finds_nothing_pending() {
    let p = project("interop_sqlx_after").await;
    p.run(&["up"]).success();
    let before = rows(&p).await;
    assert_eq!(before.len(), 3);
    let migrator = Migrator::new(p.path("migrations")).await.unwrap();
    // Same versions, descriptions and checksums as sqlx computes them.
    for m in migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
    {
        let (description, checksum) = &before[&m.version];
        assert_eq!(description, &*m.description, "description of {}", m.version);
        assert_eq!(
            checksum.as_slice(),
            &*m.checksum,
            "checksum of {}",
            m.version
        );
    }
    let pool = p.db.pool().await;
    migrator
        .run(&pool)
        .await
        .expect("sqlx finds no mismatch and nothing to do");
    assert_eq!(rows(&p).await, before, "sqlx applied something");
    // sqlx released its lock (it ran nothing); none of ours is left either.
    let advisory: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(advisory, 0);
}

#[tokio::test]
async fn migrated_after_sqlx_migrator_finds_nothing_pending() {
    let p = Project::new("interop_migrated_after").await;
    p.migration(
        "20260101000000",
        "create_users",
        "CREATE TABLE users (id int);\n",
        Some("DROP TABLE users;\n"),
    );
    p.migration(
        "20260101000001",
        "create_posts",
        "CREATE TABLE posts (id int);\n",
        Some("DROP TABLE posts;\n"),
    );
    let migrator = Migrator::new(p.path("migrations")).await.unwrap();
    migrator.run(&p.db.pool().await).await.unwrap();
    p.run(&["up"])
        .success()
        .stdout_has("nothing to apply: the database is at 20260101000001");
    p.run(&["status"]).success().stdout_has("pending   0");
    // And our down reverts what sqlx applied.
    p.run(&["down"]).success();
    assert_eq!(rows(&p).await.len(), 1);
}

#[tokio::test]
async fn sqlx_migrator_sees_migrated_down_as_pending() {
    let p = project("interop_down").await;
    p.run(&["up", "20260101000001"]).success();
    p.run(&["down"]).success();
    assert_eq!(rows(&p).await.len(), 1);
    let migrator = Migrator::new(p.path("migrations")).await.unwrap();
    migrator.run(&p.db.pool().await).await.unwrap();
    assert_eq!(rows(&p).await.len(), 3);
    p.run(&["up"]).success().stdout_has("nothing to apply");
}
