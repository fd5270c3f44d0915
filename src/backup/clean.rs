//! Whether a database holds user objects, and dropping them all: every schema but the
//! system ones, with its contents, then a fresh `public` as `initdb` makes it. Used by
//! `db restore --clean` and `db reset`, inside the caller's transaction, so a failure later
//! in that transaction brings everything back.
//!
//! Reads `pg_namespace`, `pg_class`, `pg_proc`, `pg_type` and `pg_extension`.

use anyhow::Context as _;
use sqlx::PgConnection;

use super::catalog::SYSTEM_SCHEMA_FILTER;
use crate::core::render::quote_ident;

/// Up to `limit` user objects, described as `kind name`; empty for an empty database.
pub async fn user_objects(conn: &mut PgConnection, limit: i64) -> anyhow::Result<Vec<String>> {
    let sql = format!(
        "SELECT kind || ' ' || name FROM (
           SELECT 1 AS o, 'schema' AS kind, n.nspname::text AS name FROM pg_namespace n
            WHERE {SYSTEM_SCHEMA_FILTER} AND n.nspname <> 'public'
           UNION ALL
           SELECT 2, 'relation', 'public.' || quote_ident(c.relname) FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
           UNION ALL
           SELECT 3, 'routine', 'public.' || quote_ident(p.proname) FROM pg_proc p
             JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
           UNION ALL
           SELECT 4, 'type', 'public.' || quote_ident(t.typname) FROM pg_type t
             JOIN pg_namespace n ON n.oid = t.typnamespace
            WHERE n.nspname = 'public' AND t.typrelid = 0 AND t.typcategory <> 'A'
           UNION ALL
           SELECT 5, 'extension', e.extname::text FROM pg_extension e WHERE e.extname <> 'plpgsql'
         ) objects ORDER BY o, name LIMIT $1"
    );
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(conn)
        .await
        .context("looking for objects in the target database")
}

/// Drops every user schema (and so everything in it, extensions included) and recreates
/// `public` with the owner and privileges `initdb` gives it.
pub async fn drop_user_objects(conn: &mut PgConnection) -> anyhow::Result<()> {
    let sql = format!(
        "SELECT n.nspname::text FROM pg_namespace n WHERE {SYSTEM_SCHEMA_FILTER} ORDER BY 1"
    );
    let schemas: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .context("listing schemas to drop")?;
    let mut script = String::new();
    for schema in &schemas {
        script.push_str("DROP SCHEMA ");
        script.push_str(&quote_ident(schema));
        script.push_str(" CASCADE;\n");
    }
    let version: i32 = sqlx::query_scalar("SELECT current_setting('server_version_num')::int4")
        .fetch_one(&mut *conn)
        .await
        .context("reading the server version")?;
    script.push_str(public_schema_script(version));
    sqlx::raw_sql(sqlx::AssertSqlSafe(script))
        .execute(&mut *conn)
        .await
        .context("dropping the objects of the target database")?;
    Ok(())
}

/// `drop_user_objects` in a transaction of its own.
pub async fn drop_all(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::raw_sql("BEGIN").execute(&mut *conn).await?;
    if let Err(e) = drop_user_objects(conn).await {
        let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
        return Err(e);
    }
    sqlx::raw_sql("COMMIT")
        .execute(&mut *conn)
        .await
        .context("committing the drop")?;
    Ok(())
}

/// `public` as a fresh database has it on this server version.
fn public_schema_script(server_version_num: i32) -> &'static str {
    if server_version_num >= 150_000 {
        "CREATE SCHEMA public AUTHORIZATION pg_database_owner;
         GRANT USAGE ON SCHEMA public TO PUBLIC;
         COMMENT ON SCHEMA public IS 'standard public schema';"
    } else {
        "CREATE SCHEMA public;
         GRANT ALL ON SCHEMA public TO PUBLIC;
         COMMENT ON SCHEMA public IS 'standard public schema';"
    }
}
