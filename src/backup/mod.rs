//! Native backups: one consistent snapshot written as plain SQL, gzip-compressed; restore;
//! rotation.
//!
//! A backup is decided, then performed: the snapshot is opened and read (schema from the
//! engine, data-specific facts from `catalog`), what cannot be captured is refused before
//! any file exists, the tables are dumped in parallel into anonymous spool files, and only
//! then is the file assembled in pg_dump's order (settings, pre-data, data, post-data,
//! sequence values) under `<file>.partial` and renamed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, bail};
use chrono::Utc;
use tracing::{info, warn};

use crate::config::{BackupConfig, Config, DatabaseUrl};
use crate::core::render::{qualified, quote_literal};

pub mod catalog;
mod classify;
pub mod clean;
pub mod compress;
pub mod dump;
pub mod file;
pub mod hook;
pub mod parallel;
pub mod pieces;
mod post_data;
pub mod progress;
pub mod restore;
pub mod rotate;
pub mod schema;
pub mod snapshot;
pub mod split;

pub use restore::{RestoreOptions, RestoreReport, restore};

/// What to back up and why.
#[derive(Debug, Clone)]
pub struct BackupRequest {
    /// The file to write; `None` for `<backups_dir>/<db>-<timestamp>-<reason>.sql.gz`.
    pub output: Option<PathBuf>,
    /// `manual`, or `pre-<version>` before applying migrations.
    pub reason: String,
    /// Write the backup even when some objects cannot be captured (listed in its header).
    pub allow_incomplete: bool,
}

/// What a backup wrote.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub path: PathBuf,
    pub tables: usize,
    pub rows: u64,
    pub bytes: u64,
    /// Objects not captured (only non-empty with `allow_incomplete`).
    pub incomplete: Vec<String>,
    /// Older backups removed by rotation.
    pub rotated: Vec<PathBuf>,
}

/// Objects that the backup cannot capture, refused without `--allow-incomplete`.
#[derive(Debug, thiserror::Error)]
#[error(
    "the backup would be incomplete; these objects cannot be captured:\n  {}\n\
     nothing was written; pass --allow-incomplete to take it anyway (they are then listed in \
     the file header)",
    .0.join("\n  ")
)]
pub struct IncompleteBackup(pub Vec<String>);

/// Takes a backup with the configured level, jobs and rotation.
pub async fn backup(
    config: &Config,
    url: &DatabaseUrl,
    request: &BackupRequest,
) -> anyhow::Result<BackupReport> {
    #[allow(clippy::disallowed_methods)] // the I/O edge of a backup: its file name's time
    let now = Utc::now();
    let started = (SystemTime::now(), Instant::now());
    let mut snap = capture(url, request.allow_incomplete, &config.backup).await?;
    let database = snap.leader.info.database.clone();
    let path = match &request.output {
        Some(path) => path.clone(),
        None => file::free_path(&config.backups_dir.join(file::file_name(
            &database,
            now,
            &request.reason,
        ))),
    };
    let dir = parent_dir(&path);
    create_private_dir(&dir)?;
    for stale in file::remove_stale_partials(&dir, &database, started.0) {
        info!(file = %stale.display(), "removed the partial file of an interrupted backup");
    }
    let dumped = dump(config, url, &snap, &dir).await?;
    // Read after the rows, so no value is below one the dumped rows already use.
    let sequences = catalog::sequence_values(&mut snap.leader.conn).await?;
    let _ = sqlx::raw_sql("COMMIT").execute(&mut snap.leader.conn).await;
    let rows = table_rows(&snap, &dumped);
    let mut parts = assemble(config, &snap, &rows, &sequences, dumped)?;
    let target = path.clone();
    tokio::task::spawn_blocking(move || file::write_atomically(&target, &mut parts))
        .await
        .context("BUG: backup writer panicked")??;
    let rotated = if request.output.is_none() {
        rotate::rotate(&dir, &database, config.backup.keep)?
    } else {
        Vec::new()
    };
    let report = BackupReport {
        bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
        path,
        tables: rows.len(),
        rows: rows.iter().map(|(_, r)| r).sum(),
        incomplete: snap.incomplete,
        rotated,
    };
    info!(
        file = %report.path.display(),
        tables = report.tables,
        rows = report.rows,
        bytes = report.bytes,
        duration_ms = u64::try_from(started.1.elapsed().as_millis()).unwrap_or(u64::MAX),
        "backup.created"
    );
    Ok(report)
}

/// What the snapshot holds, read before any file is touched.
struct Captured {
    leader: snapshot::Leader,
    tables: Arc<Vec<catalog::DataTable>>,
    /// What each COPY reads, in file order.
    pieces: Arc<Vec<pieces::Piece>>,
    schema: schema::SchemaDdl,
    incomplete: Vec<String>,
}

/// Opens the snapshot, reads the schema and the tables, refuses what cannot be captured
/// (unless allowed), and locks the tables against DDL for the rest of the backup.
async fn capture(
    url: &DatabaseUrl,
    allow_incomplete: bool,
    settings: &BackupConfig,
) -> anyhow::Result<Captured> {
    let mut leader = snapshot::begin(url.expose()).await?;
    let tables = catalog::data_tables(&mut leader.conn).await?;
    let pieces = pieces::plan(
        &tables,
        settings.split_mb.saturating_mul(128), // 8 KiB blocks per MiB
        leader.info.server_version_num,
    );
    // Laid out for a restore with as many connections as this backup has.
    let pieces = pieces::interleave(pieces, &tables, settings.jobs);
    let schema = schema::schema_ddl(&mut leader, &tables).await?;
    let mut incomplete = schema.unsupported.clone();
    incomplete.extend(catalog::uncaptured_contents(&mut leader.conn).await?);
    if !incomplete.is_empty() && !allow_incomplete {
        bail!(IncompleteBackup(incomplete));
    }
    for object in &incomplete {
        warn!(object = %object, "backup does not capture this object");
    }
    let names: Vec<String> = tables
        .iter()
        .map(|t| qualified(&t.schema, &t.name))
        .collect();
    snapshot::lock_tables(&mut leader.conn, &names).await?;
    Ok(Captured {
        leader,
        tables: Arc::new(tables),
        pieces: Arc::new(pieces),
        schema,
        incomplete,
    })
}

/// Dumps every table in parallel into spool files in `dir`, with a progress bar.
async fn dump(
    config: &Config,
    url: &DatabaseUrl,
    snap: &Captured,
    dir: &Path,
) -> anyhow::Result<dump::Dumped> {
    let progress = progress::bar(snap.tables.iter().map(|t| t.size_bytes).sum(), "backup");
    let dumped = dump::dump_tables(dump::DumpPlan {
        url: url.expose().to_owned(),
        snapshot_id: snap.leader.info.id.clone(),
        tables: Arc::clone(&snap.tables),
        pieces: Arc::clone(&snap.pieces),
        jobs: config.backup.jobs,
        level: config.backup.level,
        spool_dir: dir.to_path_buf(),
        progress: progress.clone(),
    })
    .await;
    progress.finish_and_clear();
    dumped
}

/// The file's pieces in pg_dump's order: header, settings and pre-data; the tables; then
/// post-data, sequence values and the end mark.
fn assemble(
    config: &Config,
    snap: &Captured,
    rows: &[(String, u64)],
    sequences: &[catalog::SequenceValue],
    dumped: dump::Dumped,
) -> anyhow::Result<file::Parts> {
    let info = &snap.leader.info;
    let head = file::render_header(&file::Header {
        tool_version: env!("CARGO_PKG_VERSION"),
        server_version: &info.server_version,
        database: &info.database,
        snapshot_time: &info.taken_at,
        tables: rows.to_vec(),
        incomplete: &snap.incomplete,
    }) + &section("pre-data", &snap.schema.pre_data);
    let tail = tail_text(&snap.schema.post_data, sequences);
    let level = config.backup.level;
    Ok(file::Parts {
        head: compress::member_bytes(head.as_bytes(), level)?,
        tables: dumped.pieces.iter().map(|t| t.extent).collect(),
        spools: dumped.spools,
        tail: compress::member_bytes(tail.as_bytes(), level)?,
    })
}

/// Each table's qualified name and rows (the sum over its pieces), in file order.
fn table_rows(snap: &Captured, dumped: &dump::Dumped) -> Vec<(String, u64)> {
    let mut rows = vec![0_u64; snap.tables.len()];
    for (piece, done) in snap.pieces.iter().zip(&dumped.pieces) {
        rows[piece.table] += done.rows;
    }
    snap.tables
        .iter()
        .zip(rows)
        .map(|(t, r)| (qualified(&t.schema, &t.name), r))
        .collect()
}

/// The backup taken before applying `version`: `<db>-<timestamp>-pre-<version>.sql.gz` in
/// the backups folder, rotated like any other. Called by `up`, the watcher and `--once`.
pub async fn backup_before_apply(
    config: &Config,
    url: &DatabaseUrl,
    version: &str,
) -> anyhow::Result<PathBuf> {
    let request = BackupRequest {
        output: None,
        reason: format!("pre-{version}"),
        allow_incomplete: false,
    };
    let report = backup(config, url, &request)
        .await
        .with_context(|| format!("backing up before applying {version}"))?;
    Ok(report.path)
}

/// A titled section of statements, each ending in `;`.
fn section(title: &str, statements: &[String]) -> String {
    let mut out = format!("\n--\n-- migrated:section {title}\n--\n\n");
    for statement in statements {
        out.push_str(&terminated(statement));
    }
    out
}

/// A statement with exactly one `;`, on its own line when the last line holds a comment.
fn terminated(statement: &str) -> String {
    let body = statement.trim_end().trim_end_matches(';').trim_end();
    let last = body.lines().last().unwrap_or_default();
    if last.contains("--") {
        format!("{body}\n;\n\n")
    } else {
        format!("{body};\n\n")
    }
}

/// Post-data, sequence values, and the end mark.
fn tail_text(post_data: &[String], sequences: &[catalog::SequenceValue]) -> String {
    let mut out = section("post-data", post_data);
    let setvals: Vec<String> = sequences.iter().map(setval).collect();
    out.push_str(&section("sequence values", &setvals));
    out.push_str(restore::END_MARK);
    out.push('\n');
    out
}

/// `SELECT pg_catalog.setval(...)` for one sequence; an identity column's sequence is found
/// by its column, since the server names it on restore.
fn setval(seq: &catalog::SequenceValue) -> String {
    let target = match &seq.identity {
        Some((schema, table, column)) => format!(
            "pg_catalog.pg_get_serial_sequence({}, {})",
            quote_literal(&qualified(schema, table)),
            quote_literal(column)
        ),
        None => quote_literal(&qualified(&seq.schema, &seq.name)),
    };
    format!(
        "SELECT pg_catalog.setval({target}, {}, {})",
        seq.value, seq.is_called
    )
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Creates the backups folder (mode 0700 when it is new: backups hold all the data).
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating the backups folder {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminated_adds_one_semicolon_and_guards_comments() {
        assert_eq!(terminated("SELECT 1"), "SELECT 1;\n\n");
        assert_eq!(terminated("SELECT 1;\n"), "SELECT 1;\n\n");
        assert_eq!(terminated("SELECT 1 -- note"), "SELECT 1 -- note\n;\n\n");
    }

    #[test]
    fn setval_identity_uses_the_column_serial_uses_the_name() {
        let mut seq = catalog::SequenceValue {
            schema: "public".into(),
            name: "t_id_seq".into(),
            identity: None,
            value: 42,
            is_called: true,
        };
        assert_eq!(
            setval(&seq),
            "SELECT pg_catalog.setval('public.t_id_seq', 42, true)"
        );
        seq.identity = Some(("public".into(), "T".into(), "id".into()));
        seq.is_called = false;
        assert_eq!(
            setval(&seq),
            "SELECT pg_catalog.setval(pg_catalog.pg_get_serial_sequence('public.\"T\"', 'id'), 42, false)"
        );
    }
}
