//! `migrated up [head|+N|VERSION] [--sql]`: apply pending migrations, or print their SQL.

use anyhow::Context as _;

use super::Context;
use crate::backup::hook;
use crate::cli::UpArgs;
use crate::core::migration::{SumProblem, UpTarget, offline_sql, plan_up};
use crate::db::apply::{self, ApplyOptions, Report};
use crate::db::{self, history};
use crate::error::UsageError;
use crate::migrations;

pub async fn up(ctx: &Context, args: &UpArgs) -> anyhow::Result<()> {
    let target: UpTarget = args
        .target
        .parse()
        .map_err(|e| UsageError(format!("{e}")))?;
    if args.sql {
        let set = migrations::load(&ctx.config.migrations_dir)?;
        return print_sql(ctx, &set, target).await;
    }
    let url = ctx.config.require_database_url()?;
    // Read the files while the server forks a backend for us: the no-op `up` is mostly these
    // two waits. A problem with the files is reported first (it needs no database).
    let dir = ctx.config.migrations_dir.clone();
    let (files, conn) = tokio::join!(
        tokio::task::spawn_blocking(move || migrations::load_with_sum(&dir)),
        db::connect(url)
    );
    let (set, sum) = files.context("BUG: reading the migrations directory panicked")??;
    warn_stale_sum(sum);
    let mut conn = conn?;
    let backup = hook::before_up(&ctx.config, url, &mut conn, &set, target).await?;
    if let Some(path) = &backup {
        println!("backed up to {}", path.display());
    }
    let mut options = ApplyOptions::from_config(&ctx.config);
    options.backup_file = backup.as_ref().map(|p| p.display().to_string());
    let report = apply::up(&mut conn, &set, target, &options)
        .await
        .inspect_err(|e| {
            if let Some(hint) = hook::restore_hint(&ctx.config, e, backup.as_deref()) {
                eprintln!("{hint}");
            }
        })?;
    db::close(conn).await;
    print_report(&report, "apply");
    Ok(())
}

/// `up` applies what the files say even when `migrated.sum` disagrees (`--once` and
/// `validate` refuse it), but says so. A project without a sum file (plain sqlx-cli) is not
/// warned about.
fn warn_stale_sum(problems: Vec<SumProblem>) {
    for problem in problems {
        if !matches!(problem, SumProblem::Missing { .. }) {
            tracing::warn!(
                "{problem}; applying anyway (`migrated validate` fails until it is fixed)"
            );
        }
    }
}

/// Prints what a run did, then where the database is.
pub fn print_report(report: &Report, verb: &str) {
    let done = if verb == "apply" {
        "applied"
    } else {
        "reverted"
    };
    for step in &report.steps {
        println!(
            "{done} {} {} ({} ms)",
            step.version,
            step.description,
            step.duration.as_millis()
        );
    }
    let at = report
        .current
        .map_or_else(|| "base (nothing applied)".to_owned(), |v| v.to_string());
    if report.steps.is_empty() {
        println!("nothing to {verb}: the database is at {at}");
    } else {
        println!("the database is at {at}");
    }
}

/// `--sql`: reads the state (when a database is configured) and prints the plan's SQL.
async fn print_sql(
    ctx: &Context,
    set: &crate::core::migration::MigrationSet,
    target: UpTarget,
) -> anyhow::Result<()> {
    let applied = if let Some(url) = &ctx.config.database_url {
        let mut conn = db::connect(url).await?;
        let applied = history::read(&mut conn).await?.unwrap_or_default();
        db::close(conn).await;
        applied
    } else {
        println!("-- no database configured: assuming nothing is applied");
        Vec::new()
    };
    let plan = plan_up(set, &applied, target)?;
    print!("{}", offline_sql(set, &plan, history::state_table()));
    Ok(())
}
