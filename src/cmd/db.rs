//! `migrated db backup|restore|reset`.

use std::time::Instant;

use super::Context;
use crate::backup::{self, BackupRequest, RestoreOptions};
use crate::cli::{BackupArgs, ResetArgs, RestoreArgs};
use crate::core::migration::UpTarget;
use crate::db::{self, apply, apply::ApplyOptions};
use crate::error::UsageError;
use crate::migrations;

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
    let options = RestoreOptions {
        clean: args.clean,
        jobs: ctx.config.backup.jobs,
    };
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

/// Drops every object, then applies every migration again with the runner's `apply::up`.
/// With `backup.before_apply`, a `pre-reset` backup is taken first.
pub async fn reset(ctx: &Context, args: &ResetArgs) -> anyhow::Result<()> {
    let url = ctx.config.require_database_url()?;
    if !args.yes {
        return Err(UsageError(format!(
            "`db reset` drops every object in {} and reapplies all migrations; pass --yes to confirm",
            url.redacted()
        ))
        .into());
    }
    let set = migrations::load(&ctx.config.migrations_dir)?;
    if ctx.config.backup.before_apply {
        let request = BackupRequest {
            output: None,
            reason: "pre-reset".to_owned(),
            allow_incomplete: false,
        };
        let report = backup::backup(&ctx.config, url, &request).await?;
        println!("backed up to {}", report.path.display());
    }
    let mut conn = db::connect(url).await?;
    backup::clean::drop_all(&mut conn).await?;
    println!(
        "dropped every object in {}",
        url.database_name().unwrap_or_default()
    );
    let report = apply::up(
        &mut conn,
        &set,
        UpTarget::Head,
        &ApplyOptions::from_config(&ctx.config),
    )
    .await?;
    db::close(conn).await;
    super::up::print_report(&report, "apply");
    Ok(())
}
