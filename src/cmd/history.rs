//! `migrated history [--json]`: the applied migrations (`_sqlx_migrations`) and the audit
//! trail (`migrated_events`: every up, down, stamp and repair, failures included).

use serde::Serialize;

use super::Context;
use crate::cli::JsonArgs;
use crate::db::events::{self, EventRow};
use crate::db::{self, history};

#[derive(Debug, Serialize)]
struct Applied {
    version: i64,
    description: String,
    installed_on: chrono::DateTime<chrono::Utc>,
    success: bool,
    execution_ms: Option<f64>,
    checksum: String,
}

#[derive(Debug, Serialize)]
struct History {
    applied: Vec<Applied>,
    events: Vec<EventRow>,
}

pub async fn history(ctx: &Context, args: &JsonArgs) -> anyhow::Result<()> {
    let url = ctx.config.require_database_url()?;
    let mut conn = db::connect(url).await?;
    let rows = history::read(&mut conn).await?.unwrap_or_default();
    let events = events::read(&mut conn).await?;
    db::close(conn).await;
    #[allow(clippy::cast_precision_loss)] // nanoseconds to display milliseconds
    let applied = rows
        .into_iter()
        .map(|r| Applied {
            version: r.version,
            description: r.description,
            installed_on: r.installed_on,
            success: r.success,
            execution_ms: (r.execution_time >= 0).then(|| r.execution_time as f64 / 1e6),
            checksum: hex::encode(r.checksum),
        })
        .collect();
    let history = History { applied, events };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&history)?);
    } else {
        print_text(&history);
    }
    Ok(())
}

fn print_text(h: &History) {
    println!("applied migrations ({}):", h.applied.len());
    for a in &h.applied {
        let state = if a.success { "" } else { "  FAILED" };
        let ms = a
            .execution_ms
            .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1} ms"));
        println!(
            "  {} {:<30} {}  {ms}{state}",
            a.version,
            a.description,
            a.installed_on.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    println!("events ({}):", h.events.len());
    for e in &h.events {
        let version = e.version.map_or_else(|| "-".to_owned(), |v| v.to_string());
        let outcome = match &e.error {
            None if e.success => "ok".to_owned(),
            None => "failed".to_owned(),
            Some(err) => format!("failed: {err}"),
        };
        let backup = e
            .backup_file
            .as_deref()
            .map_or_else(String::new, |b| format!(" backup={b}"));
        let detail = e
            .detail
            .as_deref()
            .map_or_else(String::new, |d| format!(" ({d})"));
        println!(
            "  #{} {} {:<6} {:<16} {} ms  {}@{}{backup}{detail}  {outcome}",
            e.id,
            e.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
            e.direction,
            version,
            e.duration_ms,
            e.tool_version,
            e.host
        );
    }
}
