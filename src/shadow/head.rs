//! The head shadow: every committed migration replayed on an empty database, cached by what
//! was applied. The bookkeeping table `_migrated_shadow_head` records each applied file's
//! version and checksum; when the directory only gained migrations at the end, just the new
//! ones are applied, and anything else (an edited, removed or inserted file) rebuilds it.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;

use super::Shadow;
use crate::core::migration::{MigrationSet, UpTarget, checksum_matches};
use crate::db::apply::{self, ApplyOptions};
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

/// Brings the head shadow to `set` with the runner's apply: only the migrations after those
/// already applied when the applied ones are an unchanged prefix, else all of them on a new
/// database.
pub async fn update(shadow: &Shadow, set: &MigrationSet) -> anyhow::Result<Report> {
    let mut conn = shadow.connect().await?;
    let applied = history::read(&mut conn).await?.unwrap_or_default();
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
    let options = ApplyOptions {
        lock_timeout: Duration::from_secs(10),
        lock_retries: 0,
        advisory_lock_timeout: Duration::from_mins(1),
        backup_file: None,
    };
    let report = apply::up(&mut conn, set, UpTarget::Head, &options)
        .await
        .context("replaying the migrations in the head shadow")?;
    Ok(Report {
        rebuilt,
        applied: report.steps.len(),
    })
}
