//! `migrated down [-N|VERSION|base] [--sql]`: revert applied migrations (newest first), or
//! print the SQL that would revert them.

use super::Context;
use super::up::print_report;
use crate::cli::DownArgs;
use crate::core::migration::{DownTarget, offline_sql, plan_down};
use crate::db::apply::{self, ApplyOptions};
use crate::db::{self, history};
use crate::error::UsageError;
use crate::migrations;

pub async fn down(ctx: &Context, args: &DownArgs) -> anyhow::Result<()> {
    let target: DownTarget = args
        .target
        .parse()
        .map_err(|e| UsageError(format!("{e}")))?;
    let set = migrations::load(&ctx.config.migrations_dir)?;
    let url = ctx.config.require_database_url()?;
    let mut conn = db::connect(url).await?;
    if args.sql {
        let applied = history::read(&mut conn).await?.unwrap_or_default();
        db::close(conn).await;
        let plan = plan_down(&set, &applied, target)?;
        print!("{}", offline_sql(&set, &plan, history::state_table()));
        return Ok(());
    }
    let report = apply::down(
        &mut conn,
        &set,
        target,
        &ApplyOptions::from_config(&ctx.config),
    )
    .await?;
    db::close(conn).await;
    print_report(&report, "revert");
    Ok(())
}
