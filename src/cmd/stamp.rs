//! `migrated stamp VERSION|head|base`: record exactly the migrations up to VERSION as applied
//! without running any SQL (rows inserted with the files' checksums, rows above removed).
//! For adopting an existing database, or after fixing one by hand. Recorded in
//! `migrated_events`.

use std::time::Instant;

use chrono::Utc;

use super::Context;
use crate::cli::StampArgs;
use crate::core::migration::{MigrationSet, StampPlan, StampTarget, plan_stamp};
use crate::db::apply::ensure_tables;
use crate::db::events::{self, Event, EventKind};
use crate::db::{self, connect::describe, history, lock};
use crate::error::UsageError;
use crate::migrations;

pub async fn stamp(ctx: &Context, args: &StampArgs) -> anyhow::Result<()> {
    let target: StampTarget = args
        .target
        .parse()
        .map_err(|e| UsageError(format!("{e}")))?;
    let set = migrations::load(&ctx.config.migrations_dir)?;
    let url = ctx.config.require_database_url()?;
    let mut conn = db::connect(url).await?;
    let timeout = ctx.config.advisory_lock_timeout;
    let plan = lock::with_lock(&mut conn, timeout, async |conn: &mut sqlx::PgConnection| {
        ensure_tables(conn).await?;
        let applied = history::read(conn).await?.unwrap_or_default();
        let plan = plan_stamp(&set, &applied, target)?;
        write(conn, &set, &plan).await?;
        Ok(plan)
    })
    .await?;
    db::close(conn).await;
    for v in &plan.delete {
        println!("unstamped {v}");
    }
    for v in &plan.insert {
        println!("stamped {v}");
    }
    if plan.insert.is_empty() && plan.delete.is_empty() {
        println!(
            "nothing to stamp: the state already matches {}",
            args.target
        );
    }
    Ok(())
}

/// Deletes and inserts the rows in one transaction, with one event per version.
async fn write(
    conn: &mut sqlx::PgConnection,
    set: &MigrationSet,
    plan: &StampPlan,
) -> anyhow::Result<()> {
    use sqlx::Connection as _;
    #[allow(clippy::disallowed_methods)] // the I/O edge reads the clock for the audit trail
    let started_at = Utc::now();
    let started = Instant::now();
    let mut tx = conn.begin().await?;
    for v in &plan.delete {
        history::delete(&mut tx, *v)
            .await
            .map_err(|e| anyhow::anyhow!("unstamping {v}: {}", describe(&e)))?;
    }
    for v in &plan.insert {
        let m = set
            .get(*v)
            .expect("BUG: plan_stamp inserts only known versions");
        history::insert(&mut tx, m.version, &m.description, &m.up.checksum, -1)
            .await
            .map_err(|e| anyhow::anyhow!("stamping {v}: {}", describe(&e)))?;
    }
    let details = plan
        .delete
        .iter()
        .map(|v| (*v, "row removed without running SQL"))
        .chain(
            plan.insert
                .iter()
                .map(|v| (*v, "recorded as applied without running SQL")),
        );
    for (version, detail) in details {
        let event = Event::success(
            EventKind::Stamp,
            Some(version),
            started_at,
            started.elapsed(),
            detail,
        );
        events::record(&mut tx, &event)
            .await
            .map_err(|e| anyhow::anyhow!("recording the stamp: {}", describe(&e)))?;
    }
    tx.commit().await?;
    Ok(())
}
