//! `migrated repair` (Flyway's semantics): realign the recorded checksum and description of
//! applied migrations whose file was deliberately edited, remove failed entries, and rewrite
//! `migrations/migrated.sum`. Applied versions whose file is missing are reported, never
//! deleted (restore the file). Every change is recorded in `migrated_events`.

use std::time::Instant;

use chrono::Utc;
use sqlx::{Connection as _, PgConnection};

use super::Context;
use crate::core::migration::{MigrationSet, RepairPlan, plan_repair};
use crate::db::apply::ensure_tables;
use crate::db::connect::describe;
use crate::db::events::{self, Event, EventKind};
use crate::db::{self, history, lock};
use crate::migrations;

pub async fn repair(ctx: &Context) -> anyhow::Result<()> {
    let dir = &ctx.config.migrations_dir;
    let set = migrations::load(dir)?;
    if let Some(url) = &ctx.config.database_url {
        let mut conn = db::connect(url).await?;
        let timeout = ctx.config.advisory_lock_timeout;
        let plan = lock::with_lock(&mut conn, timeout, async |conn: &mut PgConnection| {
            ensure_tables(conn).await?;
            let applied = history::read(conn).await?.unwrap_or_default();
            let plan = plan_repair(&set, &applied);
            write(conn, &set, &plan).await?;
            Ok(plan)
        })
        .await?;
        db::close(conn).await;
        print_plan(&set, &plan);
    } else {
        println!("no database configured: only migrated.sum is rewritten");
    }
    let sum = migrations::write_sum(dir)?;
    println!("wrote {}", sum.display());
    Ok(())
}

fn print_plan(set: &MigrationSet, plan: &RepairPlan) {
    for v in &plan.realign {
        let file = set.get(*v).map_or("?", |m| m.up.file.as_str());
        println!("realigned {v} with {file}");
    }
    for v in &plan.remove_failed {
        println!("removed failed entry {v}");
    }
    for v in &plan.missing {
        println!("left alone: {v} is applied but its file is missing (restore the file)");
    }
    if plan.is_empty() {
        println!("nothing to repair in the database");
    }
}

/// Applies the plan in one transaction, one event per change (or one saying nothing changed).
async fn write(
    conn: &mut PgConnection,
    set: &MigrationSet,
    plan: &RepairPlan,
) -> anyhow::Result<()> {
    #[allow(clippy::disallowed_methods)] // the I/O edge reads the clock for the audit trail
    let started_at = Utc::now();
    let started = Instant::now();
    let mut tx = conn.begin().await?;
    let mut changes: Vec<(Option<i64>, &str)> = Vec::new();
    for v in &plan.realign {
        let m = set
            .get(*v)
            .expect("BUG: plan_repair realigns only versions with a file");
        history::realign(&mut tx, *v, &m.description, &m.up.checksum)
            .await
            .map_err(|e| anyhow::anyhow!("realigning {v}: {}", describe(&e)))?;
        changes.push((Some(*v), "checksum and description realigned with the file"));
    }
    for v in &plan.remove_failed {
        history::delete(&mut tx, *v)
            .await
            .map_err(|e| anyhow::anyhow!("removing failed entry {v}: {}", describe(&e)))?;
        changes.push((Some(*v), "failed entry removed"));
    }
    if changes.is_empty() {
        changes.push((None, "nothing to repair"));
    }
    for (version, detail) in changes {
        let event = Event::success(
            EventKind::Repair,
            version,
            started_at,
            started.elapsed(),
            detail,
        );
        events::record(&mut tx, &event)
            .await
            .map_err(|e| anyhow::anyhow!("recording the repair: {}", describe(&e)))?;
    }
    tx.commit().await?;
    Ok(())
}
