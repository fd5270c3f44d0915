//! `migrated status [--json]`: current version, applied, pending and failed migrations, and
//! problems with the recorded state. Reads only: never creates a table.
//!
//! `draft` and `drift` belong to the models side (issue 1): `draft_and_drift` is where they
//! are filled in; until then they are reported as `null` / "-".

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Context;
use crate::cli::JsonArgs;
use crate::core::migration::{
    AppliedMigration, MigrationSet, checksum_matches, current_version, pending, problems,
};
use crate::db::{self, history};
use crate::migrations;

/// Everything `status` reports (the `--json` document).
#[derive(Debug, Serialize)]
pub struct StatusReport {
    /// The database URL, password redacted.
    pub database: String,
    /// Newest successfully applied version.
    pub current: Option<i64>,
    /// Newest version on disk.
    pub head: Option<i64>,
    pub applied: Vec<AppliedEntry>,
    pub pending: Vec<PendingEntry>,
    /// Rows with `success = false` (a failed run of an old tool; `repair` removes them).
    pub failed: Vec<AppliedEntry>,
    /// One line per problem: applied file missing, checksum mismatch, failed row.
    pub problems: Vec<String>,
    /// The watcher's draft migration, if any. Filled by the models side (see module doc).
    pub draft: Option<serde_json::Value>,
    /// Differences between the database and the head state. Filled by the models side.
    pub drift: Option<serde_json::Value>,
}

#[derive(Debug, Serialize)]
pub struct AppliedEntry {
    pub version: i64,
    pub description: String,
    pub installed_on: DateTime<Utc>,
    /// `None` when not measured (stamped).
    pub execution_ms: Option<f64>,
    /// The up file, `None` when it is missing from disk.
    pub file: Option<String>,
    /// Whether the file still has the recorded checksum (`None` when missing).
    pub checksum_ok: Option<bool>,
}

#[derive(Debug, Serialize)]
pub struct PendingEntry {
    pub version: i64,
    pub description: String,
    pub file: String,
}

pub async fn status(ctx: &Context, args: &JsonArgs) -> anyhow::Result<()> {
    let set = migrations::load(&ctx.config.migrations_dir)?;
    let url = ctx.config.require_database_url()?;
    let mut conn = db::connect(url).await?;
    let applied = history::read(&mut conn).await?.unwrap_or_default();
    db::close(conn).await;
    let (draft, drift) = draft_and_drift(ctx);
    let report = StatusReport {
        database: url.redacted(),
        current: current_version(&applied),
        head: set.head(),
        applied: entries(&set, applied.iter().filter(|r| r.success)),
        pending: pending(&set, &applied)
            .into_iter()
            .filter_map(|v| set.get(v))
            .map(|m| PendingEntry {
                version: m.version,
                description: m.description.clone(),
                file: m.up.file.clone(),
            })
            .collect(),
        failed: entries(&set, applied.iter().filter(|r| !r.success)),
        problems: problems(&set, &applied)
            .iter()
            .map(ToString::to_string)
            .collect(),
        draft,
        drift,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(())
}

/// The draft and drift fields. The models side (issue 1) fills these in.
fn draft_and_drift(_ctx: &Context) -> (Option<serde_json::Value>, Option<serde_json::Value>) {
    (None, None)
}

fn entries<'a>(
    set: &MigrationSet,
    rows: impl Iterator<Item = &'a AppliedMigration>,
) -> Vec<AppliedEntry> {
    rows.map(|r| {
        let file = set.get(r.version);
        #[allow(clippy::cast_precision_loss)] // nanoseconds to display milliseconds
        let execution_ms = (r.execution_time >= 0).then(|| r.execution_time as f64 / 1e6);
        AppliedEntry {
            version: r.version,
            description: r.description.clone(),
            installed_on: r.installed_on,
            execution_ms,
            file: file.map(|m| m.up.file.clone()),
            checksum_ok: file.map(|m| checksum_matches(&r.checksum, m.up.sql.as_bytes())),
        }
    })
    .collect()
}

fn print_text(r: &StatusReport) {
    let version =
        |v: Option<i64>| v.map_or_else(|| "base (nothing applied)".to_owned(), |v| v.to_string());
    println!("database  {}", r.database);
    println!("current   {}", version(r.current));
    println!("head      {}", version(r.head));
    println!("applied   {}", r.applied.len());
    println!("pending   {}", r.pending.len());
    for p in &r.pending {
        println!("  {} {} ({})", p.version, p.description, p.file);
    }
    println!("failed    {}", r.failed.len());
    for f in &r.failed {
        println!("  {} {}", f.version, f.description);
    }
    let shown = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map_or_else(|| "-".to_owned(), ToString::to_string)
    };
    println!("draft     {}", shown(&r.draft));
    println!("drift     {}", shown(&r.drift));
    for p in &r.problems {
        println!("problem: {p}");
    }
}
