//! The head shadow: every committed migration replayed on an empty database, cached by what
//! was applied. The runner's state table (`_sqlx_migrations`) records each replayed file's
//! version and checksum; when the directory only gained migrations at the end, just the new
//! ones are applied, and anything else (an edited, removed or inserted file) rebuilds it.

use std::path::Path;

use anyhow::Context as _;
use sqlx::PgConnection;
use sqlx::postgres::{PgDatabaseError, PgErrorPosition};

use super::{Shadow, describe, execute};
use crate::core::migration::{
    Migration, MigrationSet, Script, checksum_matches, line_at, locate, split_statements,
};
use crate::db::history;

/// What an update did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub rebuilt: bool,
    pub applied: usize,
}

/// The committed migrations of a directory: every migration but the draft
/// (`<version>_draft`). A missing directory has none.
pub fn committed(dir: &Path) -> anyhow::Result<MigrationSet> {
    if !dir.exists() {
        return Ok(MigrationSet::default());
    }
    let mut files = crate::migrations::read_dir(dir)?;
    files.retain(|f| !is_draft(&f.name));
    MigrationSet::from_files(&files).with_context(|| format!("in {}", dir.display()))
}

/// Whether a migration file name is the draft's.
pub fn is_draft(name: &str) -> bool {
    name.split_once('_')
        .is_some_and(|(_, rest)| matches!(rest, "draft.up.sql" | "draft.down.sql" | "draft.sql"))
}

/// Brings the head shadow to `set`: only the migrations after those already applied when
/// the applied ones are an unchanged prefix, else all of them on a new database. The state is
/// kept in the runner's table (`_sqlx_migrations`, written with `db::history`); the replay is
/// quiet (no events, no logs: it is not the user's database).
pub async fn update(shadow: &Shadow, set: &MigrationSet) -> anyhow::Result<Report> {
    let mut conn = shadow.connect().await?;
    let recorded = history::read(&mut conn).await?;
    let applied = recorded.clone().unwrap_or_default();
    let is_prefix = applied.len() <= set.migrations.len()
        && applied.iter().zip(set.iter()).all(|(a, m)| {
            a.success
                && a.version == m.version
                && checksum_matches(&a.checksum, m.up.sql.as_bytes())
        });
    let rebuilt = !is_prefix;
    if rebuilt {
        use sqlx::Connection as _;
        let _ = conn.close().await;
        conn = shadow.recreate().await?;
    }
    if rebuilt || recorded.is_none() {
        history::ensure_table(&mut conn).await?;
    }
    let start = if rebuilt { 0 } else { applied.len() };
    for migration in set.iter().skip(start) {
        replay(&mut conn, migration)
            .await
            .context("replaying the migrations in the head shadow")?;
    }
    shadow.release(conn);
    Ok(Report {
        rebuilt,
        applied: set.migrations.len() - start,
    })
}

/// Applies one migration and records it, in one transaction (statement by statement, without
/// one, for a `-- no-transaction` file).
async fn replay(conn: &mut PgConnection, migration: &Migration) -> anyhow::Result<()> {
    let script = &migration.up;
    if script.no_transaction {
        let statements =
            split_statements(&script.sql).map_err(|e| anyhow::anyhow!("{}: {e}", script.file))?;
        for statement in statements {
            execute(conn, statement.text)
                .await
                .map_err(|err| replay_error(script, statement.offset, &err))?;
        }
    } else {
        execute(conn, "BEGIN")
            .await
            .map_err(|e| anyhow::anyhow!(describe(&e)))?;
        if let Err(err) = execute(conn, &script.sql).await {
            let _ = execute(conn, "ROLLBACK").await;
            return Err(replay_error(script, 0, &err));
        }
    }
    history::insert(
        conn,
        migration.version,
        &migration.description,
        &script.checksum,
        -1,
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "recording migration {}: {}",
            migration.version,
            describe(&e)
        )
    })?;
    if !script.no_transaction {
        execute(conn, "COMMIT")
            .await
            .map_err(|e| anyhow::anyhow!(describe(&e)))?;
    }
    Ok(())
}

/// `file:line: message` for a statement of a migration the server refused.
fn replay_error(script: &Script, offset: usize, err: &sqlx::Error) -> anyhow::Error {
    let line = match err {
        sqlx::Error::Database(db) => match db
            .try_downcast_ref::<PgDatabaseError>()
            .and_then(PgDatabaseError::position)
        {
            Some(PgErrorPosition::Original(position)) => locate(&script.sql, offset, position),
            _ => line_at(&script.sql, offset),
        },
        _ => line_at(&script.sql, offset),
    };
    anyhow::anyhow!("{}:{line}: {}", script.file, describe(err))
}
