//! The desired shadow: the models loaded by PostgreSQL itself, updated incrementally.
//!
//! The bookkeeping table `_migrated_shadow` records every loaded statement (key =
//! fingerprint, what it creates, alters and references). On each update only the statements
//! whose fingerprint changed are dropped and re-run, with everything that depends on them
//! (`core::models::incremental` decides). The whole update runs in one transaction, so a
//! model error leaves the shadow as it was. When the bookkeeping is missing or does not match
//! the database (a drop fails), the shadow is rebuilt from an empty database.
//!
//! A table that other tables only point at with foreign keys is recreated without them: their
//! keys are detached first (definition and comment read from the catalog) and attached again
//! to the new table, so editing a table everything refers to costs one table, not the model.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use sqlx::PgConnection;

use super::{Shadow, context, describe, error_line, execute};
use crate::core::models::incremental::{self, Loaded, Update};
use crate::core::models::{ModelSet, ObjectKind, ObjectName, Statement};
use crate::core::render::{qualified, quote_ident};

/// Bookkeeping format: bump when the table's meaning changes (old shadows are rebuilt).
const FORMAT: &str = "migrated shadow v2";

/// Serializes updates of one shadow between processes (watcher and CLI).
const LOCK_KEY: i64 = 0x6d69_6772_7368_6477; // "migrshdw"

/// What an update did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub rebuilt: bool,
    pub dropped: usize,
    pub ran: usize,
}

/// Brings the desired shadow to the models.
pub async fn update(shadow: &Shadow, models: &ModelSet) -> anyhow::Result<Report> {
    let (mut conn, created) = shadow.connect_or_create().await?;
    if created {
        return rebuild(shadow, models, Some(conn)).await;
    }
    let update = match read(&mut conn).await? {
        Some(loaded) => incremental::plan(&loaded, &models.statements),
        None => Update::Rebuild("no bookkeeping".to_owned()),
    };
    let (drop, run) = match update {
        Update::Incremental { drop, run } => (drop, run),
        Update::Rebuild(why) => {
            tracing::debug!(shadow = %shadow.name, why, "rebuilding the desired shadow");
            drop_conn(conn).await;
            return rebuild(shadow, models, None).await;
        }
    };
    if drop.is_empty() && run.is_empty() {
        shadow.release(conn);
        return Ok(Report::default());
    }
    match incremental_update(&mut conn, models, &drop, &run).await {
        Ok(report) => {
            shadow.release(conn);
            Ok(report)
        }
        Err(Failure::Model(err)) => {
            // Rolled back: the connection is clean.
            shadow.release(conn);
            Err(err)
        }
        Err(Failure::Stale(why)) => {
            tracing::debug!(shadow = %shadow.name, why, "bookkeeping stale, rebuilding");
            drop_conn(conn).await;
            rebuild(shadow, models, None).await
        }
    }
}

async fn drop_conn(conn: PgConnection) {
    use sqlx::Connection as _;
    let _ = conn.close().await;
}

/// Why an incremental update did not happen.
enum Failure {
    /// A model statement is wrong: report it.
    Model(anyhow::Error),
    /// The shadow does not hold what its bookkeeping says: rebuild.
    Stale(String),
}

async fn incremental_update(
    conn: &mut PgConnection,
    models: &ModelSet,
    drop: &[Loaded],
    run: &[usize],
) -> Result<Report, Failure> {
    let stale = |e: sqlx::Error| Failure::Stale(describe(&e));
    execute(conn, "BEGIN").await.map_err(stale)?;
    let result = incremental_steps(conn, models, drop, run).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    execute(conn, end).await.map_err(stale)?;
    result
}

async fn incremental_steps(
    conn: &mut PgConnection,
    models: &ModelSet,
    drop: &[Loaded],
    run: &[usize],
) -> Result<Report, Failure> {
    let stale = |e: sqlx::Error| Failure::Stale(describe(&e));
    lock(conn).await.map_err(stale)?;
    let detached = detach_keys(conn, drop).await.map_err(stale)?;
    for row in drop {
        drop_created(conn, row).await.map_err(stale)?;
    }
    let seqs: Vec<i32> = drop.iter().map(|l| l.seq).collect();
    sqlx::query("DELETE FROM public._migrated_shadow WHERE seq = ANY($1)")
        .bind(&seqs)
        .execute(&mut *conn)
        .await
        .map_err(stale)?;
    // A re-run of a statement that loaded before can only fail if the bookkeeping is wrong;
    // a new or changed statement that fails is the models' error.
    let rerun: BTreeSet<&str> = drop.iter().map(|l| l.key.as_str()).collect();
    let keys = incremental::keys(&models.statements);
    for &i in run {
        let statement = &models.statements[i];
        if let Err(err) = run_statement(conn, statement).await {
            return Err(if rerun.contains(keys[i].as_str()) {
                Failure::Stale(describe(&err))
            } else {
                Failure::Model(statement_error(statement, &err))
            });
        }
    }
    attach_keys(conn, models, &detached).await?;
    record(conn, models, run).await.map_err(stale)?;
    Ok(Report {
        rebuilt: false,
        dropped: drop.len(),
        ran: run.len(),
    })
}

/// Loads every statement into a new, empty shadow (`fresh`: a connection to a database just
/// created, else the database is recreated).
async fn rebuild(
    shadow: &Shadow,
    models: &ModelSet,
    fresh: Option<PgConnection>,
) -> anyhow::Result<Report> {
    let mut conn = match fresh {
        Some(conn) => conn,
        None => shadow.recreate().await?,
    };
    execute(&mut conn, "BEGIN").await?;
    let result = rebuild_steps(&mut conn, models).await;
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    context(execute(&mut conn, end).await, "finishing the shadow load")?;
    shadow.release(conn);
    result
}

async fn rebuild_steps(conn: &mut PgConnection, models: &ModelSet) -> anyhow::Result<Report> {
    context(lock(conn).await, "locking the shadow")?;
    let create = format!(
        "CREATE TABLE public._migrated_shadow (seq integer PRIMARY KEY, key text NOT NULL, \
         file text NOT NULL, line integer NOT NULL, creates text NOT NULL, alters text NOT NULL, \
         refs text NOT NULL, fkrefs text NOT NULL); COMMENT ON TABLE public._migrated_shadow IS {}",
        crate::core::render::quote_literal(FORMAT)
    );
    context(
        execute(conn, &create).await,
        "creating the shadow bookkeeping",
    )?;
    for statement in &models.statements {
        run_statement(conn, statement)
            .await
            .map_err(|err| statement_error(statement, &err))?;
    }
    let all: Vec<usize> = (0..models.statements.len()).collect();
    context(
        record(conn, models, &all).await,
        "recording the shadow load",
    )?;
    Ok(Report {
        rebuilt: true,
        dropped: 0,
        ran: all.len(),
    })
}

/// Runs one model statement inside the shadow's transaction (`CONCURRENTLY`, meaningless for
/// a shadow and refused inside a transaction, is dropped).
async fn run_statement(conn: &mut PgConnection, statement: &Statement) -> Result<(), sqlx::Error> {
    if statement.sql.to_ascii_lowercase().contains("concurrently") {
        execute(conn, &crate::core::generate::transactional(&statement.sql)).await
    } else {
        execute(conn, &statement.sql).await
    }
}

/// Takes the desired shadow's update lock until the end of the transaction.
pub(crate) async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(LOCK_KEY)
        .execute(conn)
        .await
        .map(|_| ())
}

/// `file:line: message` for a model statement the server refused.
pub(crate) fn statement_error(statement: &Statement, err: &sqlx::Error) -> anyhow::Error {
    let line = error_line(&statement.sql, statement.line, err);
    anyhow::anyhow!("{}:{}: {}", statement.file, line, describe(err))
}

/// The bookkeeping rows, or `None` when there are none of this format.
pub async fn read(conn: &mut PgConnection) -> anyhow::Result<Option<Vec<Loaded>>> {
    let format: Option<String> = context(
        sqlx::query_scalar(
            "SELECT obj_description(c, 'pg_class') FROM to_regclass('public._migrated_shadow') AS c",
        )
        .fetch_one(&mut *conn)
        .await,
        "reading the shadow bookkeeping",
    )?;
    if format.as_deref() != Some(FORMAT) {
        return Ok(None);
    }
    let rows: Vec<(i32, String, String, String, String, String)> = context(
        sqlx::query_as(
            "SELECT seq, key, creates, alters, refs, fkrefs FROM public._migrated_shadow ORDER BY seq",
        )
        .fetch_all(&mut *conn)
        .await,
        "reading the shadow bookkeeping",
    )?;
    Ok(Some(
        rows.into_iter()
            .map(|(seq, key, creates, alters, refs, fkrefs)| Loaded {
                seq,
                key,
                creates: decode(&creates),
                alters: decode(&alters),
                references: decode(&refs),
                foreign_keys: decode(&fkrefs),
            })
            .collect(),
    ))
}

fn decode(text: &str) -> Vec<ObjectName> {
    text.lines().filter_map(ObjectName::decode).collect()
}

fn encode(objects: &[ObjectName]) -> String {
    objects
        .iter()
        .map(ObjectName::encode)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Records the statements just run, after every row already there.
async fn record(
    conn: &mut PgConnection,
    models: &ModelSet,
    run: &[usize],
) -> Result<(), sqlx::Error> {
    let keys = incremental::keys(&models.statements);
    let next: i32 = sqlx::query_scalar("SELECT COALESCE(max(seq), 0) FROM public._migrated_shadow")
        .fetch_one(&mut *conn)
        .await?;
    let mut columns: (Vec<i32>, Vec<String>, Vec<String>, Vec<i32>) = Default::default();
    let mut objects: (Vec<String>, Vec<String>, Vec<String>, Vec<String>) = Default::default();
    for (n, &i) in (1..).zip(run) {
        let s = &models.statements[i];
        columns.0.push(next + n);
        columns.1.push(keys[i].clone());
        columns.2.push(s.file.clone());
        columns.3.push(i32::try_from(s.line).unwrap_or(i32::MAX));
        objects.0.push(encode(&s.creates));
        objects.1.push(encode(&s.alters));
        objects.2.push(encode(&s.references));
        objects.3.push(encode(&s.foreign_keys));
    }
    sqlx::query(
        "INSERT INTO public._migrated_shadow (seq, key, file, line, creates, alters, refs, fkrefs) \
         SELECT * FROM UNNEST($1::int[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], \
         $7::text[], $8::text[])",
    )
    .bind(&columns.0)
    .bind(&columns.1)
    .bind(&columns.2)
    .bind(&columns.3)
    .bind(&objects.0)
    .bind(&objects.1)
    .bind(&objects.2)
    .bind(&objects.3)
    .execute(conn)
    .await
    .map(|_| ())
}

/// A foreign key of a table that stays, pointing at a table about to be recreated.
struct DetachedKey {
    schema: String,
    table: String,
    name: String,
    definition: String,
    comment: Option<String>,
}

/// Drops the foreign keys that tables outside `drop` hold on tables `drop` recreates, and
/// returns them to be attached again (`attach_keys`).
async fn detach_keys(
    conn: &mut PgConnection,
    drop: &[Loaded],
) -> Result<Vec<DetachedKey>, sqlx::Error> {
    let recreated: Vec<String> = drop
        .iter()
        .flat_map(|l| &l.creates)
        .filter(|o| o.kind == ObjectKind::Relation)
        .map(|o| qualified(&o.schema, &o.name))
        .collect();
    if recreated.is_empty() {
        return Ok(Vec::new());
    }
    // Top-level foreign keys (partitions' copies follow their parent's) whose target is
    // recreated and whose own table is not.
    let rows: Vec<(String, String, String, String, Option<String>)> = sqlx::query_as(
        "WITH r AS (SELECT to_regclass(x) AS oid FROM unnest($1::text[]) AS x) \
         SELECT n.nspname::text, t.relname::text, c.conname::text, pg_get_constraintdef(c.oid), \
                obj_description(c.oid, 'pg_constraint') \
           FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
           JOIN pg_namespace n ON n.oid = t.relnamespace \
          WHERE c.contype = 'f' AND c.conparentid = 0 \
            AND c.confrelid IN (SELECT oid FROM r WHERE oid IS NOT NULL) \
            AND c.conrelid NOT IN (SELECT oid FROM r WHERE oid IS NOT NULL) \
          ORDER BY 1, 2, 3",
    )
    .bind(&recreated)
    .fetch_all(&mut *conn)
    .await?;
    let keys: Vec<DetachedKey> = rows
        .into_iter()
        .map(|(schema, table, name, definition, comment)| DetachedKey {
            schema,
            table,
            name,
            definition,
            comment,
        })
        .collect();
    if !keys.is_empty() {
        let sql: Vec<String> = keys
            .iter()
            .map(|k| {
                format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    qualified(&k.schema, &k.table),
                    quote_ident(&k.name)
                )
            })
            .collect();
        execute(conn, &sql.join(";\n")).await?;
    }
    Ok(keys)
}

/// Attaches the detached keys that the re-run statements did not create again. A key the new
/// table cannot take (its column is gone) is the models' error, reported at the statement
/// of the table that holds the key.
async fn attach_keys(
    conn: &mut PgConnection,
    models: &ModelSet,
    keys: &[DetachedKey],
) -> Result<(), Failure> {
    if keys.is_empty() {
        return Ok(());
    }
    let tables: Vec<String> = keys
        .iter()
        .map(|k| qualified(&k.schema, &k.table))
        .collect();
    let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
    // The (1-based) positions of the keys that exist again.
    let present: Vec<i64> = sqlx::query_scalar(
        "SELECT k.i FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(t, n, i) \
         WHERE EXISTS (SELECT FROM pg_constraint c \
                        WHERE c.conrelid = to_regclass(k.t) AND c.conname = k.n)",
    )
    .bind(&tables)
    .bind(&names)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Failure::Stale(describe(&e)))?;
    for ((key, table), position) in keys.iter().zip(&tables).zip(1_i64..) {
        if present.contains(&position) {
            continue;
        }
        let mut sql = format!(
            "ALTER TABLE {table} ADD CONSTRAINT {} {}",
            quote_ident(&key.name),
            key.definition
        );
        if let Some(comment) = &key.comment {
            let _ = write!(
                sql,
                ";\nCOMMENT ON CONSTRAINT {} ON {table} IS {}",
                quote_ident(&key.name),
                crate::core::render::quote_literal(comment)
            );
        }
        if let Err(err) = execute(conn, &sql).await {
            let holder = ObjectName::new(ObjectKind::Relation, &key.schema, &key.table);
            let statement = models
                .statements
                .iter()
                .find(|s| s.creates.contains(&holder))
                .or_else(|| {
                    models
                        .statements
                        .iter()
                        .find(|s| s.alters.contains(&holder))
                });
            return Err(Failure::Model(match statement {
                Some(s) => anyhow::anyhow!("{}:{}: {}", s.file, s.line, describe(&err)),
                None => anyhow::anyhow!("foreign key {} of {table}: {}", key.name, describe(&err)),
            }));
        }
    }
    Ok(())
}

/// Drops what one loaded statement created, the main object first (a table takes its row
/// type and owned sequences with it). Objects already gone are skipped; dependents are never cascaded:
/// a drop that something else still needs fails, and the shadow is rebuilt instead.
async fn drop_created(conn: &mut PgConnection, row: &Loaded) -> Result<(), sqlx::Error> {
    for object in &row.creates {
        if let Some(sql) = drop_statement(conn, object).await? {
            execute(conn, &sql).await?;
        }
    }
    Ok(())
}

async fn drop_statement(
    conn: &mut PgConnection,
    object: &ObjectName,
) -> Result<Option<String>, sqlx::Error> {
    let name = qualified(&object.schema, &object.name);
    Ok(match object.kind {
        ObjectKind::Schema => Some(format!(
            "DROP SCHEMA IF EXISTS {}",
            quote_ident(&object.name)
        )),
        ObjectKind::Extension => Some(format!(
            "DROP EXTENSION IF EXISTS {}",
            quote_ident(&object.name)
        )),
        ObjectKind::Function => Some(format!("DROP ROUTINE IF EXISTS {name}")),
        ObjectKind::Relation => relation_kind(conn, object)
            .await?
            .map(|kind| format!("DROP {kind} IF EXISTS {name}")),
        ObjectKind::Type => type_kind(conn, object)
            .await?
            .map(|kind| format!("DROP {kind} IF EXISTS {name}")),
    })
}

/// The DROP keyword for a relation, or `None` when it no longer exists.
async fn relation_kind(
    conn: &mut PgConnection,
    object: &ObjectName,
) -> Result<Option<&'static str>, sqlx::Error> {
    // pg_class.relkind of one relation by schema and name.
    let kind: Option<String> = sqlx::query_scalar(
        "SELECT c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = $1 AND c.relname = $2",
    )
    .bind(&object.schema)
    .bind(&object.name)
    .fetch_optional(conn)
    .await?;
    Ok(kind.map(|k| match k.as_str() {
        "v" => "VIEW",
        "m" => "MATERIALIZED VIEW",
        "S" => "SEQUENCE",
        "i" | "I" => "INDEX",
        "c" => "TYPE",
        "f" => "FOREIGN TABLE",
        _ => "TABLE",
    }))
}

/// The DROP keyword for a type, or `None` when it is gone or is a relation's row type.
async fn type_kind(
    conn: &mut PgConnection,
    object: &ObjectName,
) -> Result<Option<&'static str>, sqlx::Error> {
    // pg_type.typtype of one type by schema and name, and whether a relation owns it.
    let row: Option<(String, bool)> = sqlx::query_as(
        "SELECT t.typtype::text, t.typrelid <> 0 FROM pg_type t \
         JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = $1 AND t.typname = $2",
    )
    .bind(&object.schema)
    .bind(&object.name)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        None | Some((_, true)) => None,
        Some((kind, false)) if kind == "d" => Some("DOMAIN"),
        Some(_) => Some("TYPE"),
    })
}
