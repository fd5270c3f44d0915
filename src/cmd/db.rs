//! `migrated db backup|restore|reset`.

use std::time::Instant;

use super::Context;
use crate::backup::{self, BackupRequest, RestoreOptions};
use crate::cli::{BackupArgs, ResetArgs, RestoreArgs};
use crate::error::{UsageError, not_implemented};

/// Takes a backup and prints its path.
pub async fn backup(ctx: &Context, args: &BackupArgs) -> anyhow::Result<()> {
    let url = ctx.config.require_database_url()?;
    let request = BackupRequest {
        output: args.output.as_ref().map(|p| ctx.cwd.join(p)),
        reason: "manual".to_owned(),
        allow_incomplete: args.allow_incomplete,
    };
    let report = backup::backup(&ctx.config, url, &request).await?;
    if !report.incomplete.is_empty() {
        eprintln!(
            "warning: the backup is incomplete (listed in its header): {}",
            report.incomplete.join(", ")
        );
    }
    for old in &report.rotated {
        tracing::info!(file = %old.display(), "removed old backup");
    }
    println!("{}", report.path.display());
    Ok(())
}

/// Restores a backup into the configured database, in one transaction.
pub async fn restore(ctx: &Context, args: &RestoreArgs) -> anyhow::Result<()> {
    let url = ctx.config.require_database_url()?;
    let file = ctx.cwd.join(&args.file);
    if !file.is_file() {
        return Err(UsageError(format!("no backup file at {}", file.display())).into());
    }
    let started = Instant::now();
    let options = RestoreOptions { clean: args.clean };
    let report = backup::restore(url.expose(), &file, &options).await?;
    println!(
        "restored {} into {}: {} statements, {} tables, {} rows in {:.1}s",
        file.display(),
        url.database_name().unwrap_or_default(),
        report.statements,
        report.tables,
        report.rows,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

pub async fn reset(_ctx: &Context, _args: &ResetArgs) -> anyhow::Result<()> {
    Err(not_implemented("db reset"))
}
