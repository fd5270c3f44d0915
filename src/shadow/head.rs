//! The head shadow: every committed migration replayed on an empty database, cached by what
//! was applied. The bookkeeping table `_migrated_shadow_head` records each applied file's
//! version and checksum; when the directory only gained migrations at the end, just the new
//! ones are applied, and anything else (an edited, removed or inserted file) rebuilds it.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest as _, Sha384};
use sqlx::PgConnection;

use super::{Shadow, context, describe, error_line, execute};

const FORMAT: &str = "migrated shadow head v1";

/// One up migration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationFile {
    pub version: i64,
    /// The file name, e.g. `20261121093000_add_users.up.sql`.
    pub name: String,
    pub path: PathBuf,
    pub sql: String,
    /// SHA-384 of the file bytes, hex.
    pub checksum: String,
}

impl MigrationFile {
    pub fn is_draft(&self) -> bool {
        self.name.ends_with("_draft.up.sql")
    }
}

/// What an update did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub rebuilt: bool,
    pub applied: usize,
}

/// The up migrations of a directory (`<version>_<slug>.up.sql` or `<version>_<slug>.sql`), in
/// version order. A missing directory has none.
pub fn list(dir: &Path) -> anyhow::Result<Vec<MigrationFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("reading the migrations directory {}", dir.display()));
        }
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("reading {}", dir.display()))?
            .path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let Some(version) = up_version(&name) else {
            continue;
        };
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let sql = String::from_utf8(bytes.clone())
            .map_err(|_| anyhow::anyhow!("migration file {} is not valid UTF-8", path.display()))?;
        files.push(MigrationFile {
            version,
            name,
            path,
            sql,
            checksum: hex::encode(Sha384::digest(&bytes)),
        });
    }
    files.sort_by_key(|f| f.version);
    Ok(files)
}

fn up_version(name: &str) -> Option<i64> {
    let extension = Path::new(name).extension().and_then(|e| e.to_str());
    if name.ends_with(".down.sql") || extension != Some("sql") {
        return None;
    }
    let (version, _) = name.split_once('_')?;
    version.parse().ok()
}

/// Brings the head shadow to `files` (already filtered by the caller, e.g. without the draft).
pub async fn update(shadow: &Shadow, files: &[MigrationFile]) -> anyhow::Result<Report> {
    let mut conn = shadow.connect().await?;
    let applied = read(&mut conn).await?;
    let is_prefix = applied.as_ref().is_some_and(|applied| {
        applied.len() <= files.len()
            && applied
                .iter()
                .zip(files)
                .all(|((v, c), f)| *v == f.version && *c == f.checksum)
    });
    let (start, rebuilt) = if is_prefix {
        (applied.map_or(0, |a| a.len()), false)
    } else {
        use sqlx::Connection as _;
        let _ = conn.close().await;
        conn = shadow.recreate().await?;
        create_bookkeeping(&mut conn).await?;
        (0, true)
    };
    for file in &files[start..] {
        apply(&mut conn, file).await?;
    }
    Ok(Report {
        rebuilt,
        applied: files.len() - start,
    })
}

async fn create_bookkeeping(conn: &mut PgConnection) -> anyhow::Result<()> {
    let sql = format!(
        "CREATE TABLE public._migrated_shadow_head (version bigint PRIMARY KEY, checksum text NOT NULL); \
         COMMENT ON TABLE public._migrated_shadow_head IS {}",
        crate::core::render::quote_literal(FORMAT)
    );
    context(
        execute(conn, &sql).await,
        "creating the head shadow bookkeeping",
    )
}

/// (version, checksum) of every applied file, or `None` without bookkeeping of this format.
async fn read(conn: &mut PgConnection) -> anyhow::Result<Option<Vec<(i64, String)>>> {
    let format: Option<String> = context(
        sqlx::query_scalar(
            "SELECT obj_description(c, 'pg_class') FROM to_regclass('public._migrated_shadow_head') AS c",
        )
        .fetch_one(&mut *conn)
        .await,
        "reading the head shadow bookkeeping",
    )?;
    if format.as_deref() != Some(FORMAT) {
        return Ok(None);
    }
    let rows = context(
        sqlx::query_as(
            "SELECT version, checksum FROM public._migrated_shadow_head ORDER BY version",
        )
        .fetch_all(&mut *conn)
        .await,
        "reading the head shadow bookkeeping",
    )?;
    Ok(Some(rows))
}

/// Applies one file and records it, in one transaction (statement by statement without one
/// for a `-- no-transaction` file).
async fn apply(conn: &mut PgConnection, file: &MigrationFile) -> anyhow::Result<()> {
    let no_transaction = file.sql.starts_with("-- no-transaction");
    if no_transaction {
        for (offset, statement) in statements(&file.sql) {
            let line = 1 + file.sql[..offset].matches('\n').count();
            execute(conn, statement)
                .await
                .map_err(|err| replay_error(file, statement, line, &err))?;
        }
    } else {
        context(execute(conn, "BEGIN").await, "starting a transaction")?;
        if let Err(err) = execute(conn, &file.sql).await {
            let _ = execute(conn, "ROLLBACK").await;
            return Err(replay_error(file, &file.sql, 1, &err));
        }
    }
    context(
        sqlx::query("INSERT INTO public._migrated_shadow_head (version, checksum) VALUES ($1, $2)")
            .bind(file.version)
            .bind(&file.checksum)
            .execute(&mut *conn)
            .await,
        "recording a replayed migration",
    )?;
    if !no_transaction {
        context(
            execute(conn, "COMMIT").await,
            "committing a replayed migration",
        )?;
    }
    Ok(())
}

/// The statements of a script with their byte offsets (the whole script when it does not parse:
/// the server then reports the error).
fn statements(sql: &str) -> Vec<(usize, &str)> {
    match pg_query::split_with_parser(sql) {
        Ok(parts) => parts
            .into_iter()
            .map(|part| (part.as_ptr() as usize - sql.as_ptr() as usize, part))
            .collect(),
        Err(_) => vec![(0, sql)],
    }
}

fn replay_error(file: &MigrationFile, sql: &str, line: usize, err: &sqlx::Error) -> anyhow::Error {
    let line = error_line(sql, line, err);
    anyhow::anyhow!(
        "replaying the migrations in the head shadow: {}:{line}: {}",
        file.path.display(),
        describe(err)
    )
}
